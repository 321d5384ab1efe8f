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
// controller-manager that binds claims every second, no leader elections, a quick etcd election
// and no fsync, a control plane that collects garbage less often, the API server's audit policy
// when auditPolicy names one, and the stages.
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
  extraEnvs: [{name: GOGC, value: "400"}]
# The control plane collects its garbage a quarter as often (GOGC=400; the machine has memory to
# spare, not CPU): the API server's collector took a ninth of its CPU in a profile of a run, and the
# API server is half of a run's CPU (make e2e, 6 pairs of runs with every process at GOGC=400:
# median 29.8 s against 30.7 s, 52.5 against 54.5 busy CPU-seconds).
- name: kube-apiserver
  extraEnvs: [{name: GOGC, value: "400"}]
- name: kube-scheduler
  extraArgs:
  - key: leader-elect
    value: "false"
# One etcd member: it elects itself after a randomised election timeout (1 s by default; its first
# second was spent waiting for it here, and the API server waited on etcd). The intervals only
# matter between members; one alone cannot lose its leadership. No fsync: the lane's etcd is thrown
# away with it, and a killed process loses nothing the kernel holds; each write waited for one
# (make e2e, 3 pairs of runs: 39.6-41.2 s with it, 31.1-37.2 s without, etcd 7.6-8.4 CPU-seconds
# against 5.3-6.3).
- name: etcd
  extraArgs:
  - key: heartbeat-interval
    value: "10"
  - key: election-timeout
    value: "100"
  - key: unsafe-no-fsync
    value: "true"
  extraEnvs: [{name: GOGC, value: "400"}]
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
