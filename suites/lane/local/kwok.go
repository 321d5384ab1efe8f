package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/backuppvc-conformance/harness/internal/modsrc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// ourStages, in fixtures/kwok: a running backupPod completes its data path; a backupPod named
// lane.UnrecoverablePodPrefix... fails before it runs.
var ourStages = []string{"backup-pod-complete.yaml", "backup-pod-unrecoverable.yaml"}

// kwokStages are kwok's own default stages (read from the pinned kwok module, as kwokctl would
// use them) plus ours from fixtures/kwok: kwokctl replaces its defaults once any stage is given.
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// kwokctlConfig writes the kwokctl configuration: binary runtime, our pinned binaries, a
// controller-manager that binds claims every second, no leader elections, the API server's audit
// policy when auditPolicy names one, and the stages.
func kwokctlConfig(path string, bins map[string]string, auditPolicy string) error {
	versions, err := toolchain.Versions()
	if err != nil {
		return err
	}
	kwokDir, err := modsrc.Dir("sigs.k8s.io/kwok@" + versions["KWOK_VERSION"])
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  # Every component on loopback: kwokctl's default, 0.0.0.0, serves etcd (no authentication) and the
  # API server on every interface of the machine.
  bindAddress: 127.0.0.1
  disableQPSLimits: true
  kubeApiserverBinary: %s
  kubeControllerManagerBinary: %s
  kubeSchedulerBinary: %s
  kubectlBinary: %s
  kwokControllerBinary: %s
  etcdBinary: %s
  etcdctlBinary: %s
  kubeAuditPolicy: %q
componentsPatches:
# No leader election: one instance of each, and the election costs seconds at start (the first
# attempt fails while kube-system does not exist yet, the next comes 2 s later), which the default
# ServiceAccount, and so every pod, waits for.
- name: kube-controller-manager
  extraArgs:
  - key: pvclaimbinder-sync-period
    value: 1s
  - key: leader-elect
    value: "false"
- name: kube-scheduler
  extraArgs:
  - key: leader-elect
    value: "false"
`, bins["kube-apiserver"], bins["kube-controller-manager"], bins["kube-scheduler"], bins["kubectl"], bins["kwok"], bins["etcd"], bins["etcdctl"], auditPolicy)
	if auditPolicy != "" {
		// The API server rotates its audit log at 100 MB by default, which a bench at N=200
		// passes within minutes: a count across a rotation would miss requests.
		b.WriteString(`- name: kube-apiserver
  extraArgs:
  - key: audit-log-maxsize
    value: "100000"
`)
	}
	stages := make([]string, 0, len(kwokStages)+len(ourStages))
	for _, s := range kwokStages {
		stages = append(stages, filepath.Join(kwokDir, s))
	}
	for _, s := range ourStages {
		stages = append(stages, filepath.Join(toolchain.RepoRoot(), "fixtures", "kwok", s))
	}
	for _, s := range stages {
		data, err := os.ReadFile(s)
		if err != nil {
			return fmt.Errorf("kwok stage: %w", err)
		}
		b.WriteString("---\n")
		b.Write(bytes.TrimSpace(data))
		b.WriteString("\n")
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
