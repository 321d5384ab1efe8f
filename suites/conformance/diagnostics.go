package conformance

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/backuppvc-conformance/harness/internal/logtail"
)

// WriteDiagnostics saves what a failed spec needs to be understood into dir, in place of what an
// earlier run left there: the objects of the Velero namespace and the spec's namespaces as YAML,
// their events, the system under test's log lines about the spec's DataUploads, and the end of
// every component log (from the lane's log folder, or from the cluster for a lane that has no
// live one).
func WriteDiagnostics(ctx context.Context, c client.Client, dir string, sh Shared, sutLogs, namespaces, dataUploads []string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var objects, events strings.Builder
	for _, ns := range append([]string{sh.VeleroNS}, namespaces...) {
		for _, l := range []client.ObjectList{&velerov1.BackupList{}, &velerov2alpha1.DataUploadList{}, &corev1.PodList{},
			&corev1.PersistentVolumeClaimList{}, &snapshotv1.VolumeSnapshotList{}} {
			if c.List(ctx, l, client.InNamespace(ns)) == nil {
				if data, err := yaml.Marshal(l); err == nil {
					fmt.Fprintf(&objects, "# %T in %s\n%s---\n", l, ns, data)
				}
			}
		}
		evs := &corev1.EventList{}
		if c.List(ctx, evs, client.InNamespace(ns)) == nil {
			for _, e := range evs.Items {
				fmt.Fprintf(&events, "%s %s %s/%s %s: %s\n", e.LastTimestamp.Format("15:04:05"), e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	for _, l := range []client.ObjectList{&corev1.PersistentVolumeList{}, &snapshotv1.VolumeSnapshotContentList{}} {
		if c.List(ctx, l) == nil {
			if data, err := yaml.Marshal(l); err == nil {
				fmt.Fprintf(&objects, "# %T\n%s---\n", l, data)
			}
		}
	}
	var sutLines strings.Builder
	for _, l := range sutLogs {
		fmt.Fprintf(&sutLines, "==> %s <==\n%s", l, grepFile(l, dataUploads))
	}
	files := map[string]string{"objects.yaml": objects.String(), "events.txt": events.String(), "system-under-test.log": sutLines.String()}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	var components strings.Builder
	if sh.LaneLogDir != "" {
		logs, _ := filepath.Glob(filepath.Join(sh.LaneLogDir, "*.log"))
		for _, l := range logs {
			fmt.Fprintf(&components, "==> %s <==\n%s\n", l, logtail.Tail(l, componentLines))
		}
	}
	if len(sh.LaneLogNamespaces) > 0 {
		cfg, err := RESTConfig(sh.Kubeconfig)
		if err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		components.WriteString(tailPodLogs(ctx, cs, sh.LaneLogNamespaces, componentLines))
	}
	if components.Len() > 0 {
		return os.WriteFile(filepath.Join(dir, "components.log"), []byte(components.String()), 0o644)
	}
	return nil
}

// componentLines is how much of each component's log a failed spec's diagnostics show.
const componentLines = 40

// tailPodLogs is the end of the current log of every container of the pods in namespaces, read
// now (a lane's log folder written at its teardown would hold an earlier run's by then).
func tailPodLogs(ctx context.Context, cs kubernetes.Interface, namespaces []string, lines int64) string {
	var b strings.Builder
	for _, ns := range namespaces {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			fmt.Fprintf(&b, "==> pods of %s <==\n(cannot list them: %v)\n\n", ns, err)
			continue
		}
		for _, p := range pods.Items {
			for _, c := range p.Spec.Containers {
				data, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, TailLines: &lines}).DoRaw(ctx)
				if err != nil {
					data = []byte("(cannot read it: " + err.Error() + ")")
				}
				fmt.Fprintf(&b, "==> pod %s/%s container %s <==\n%s\n\n", ns, p.Name, c.Name, strings.TrimRight(string(data), "\n"))
			}
		}
	}
	return b.String()
}

// grepFile returns the lines of path mentioning any of words (none when words is empty: a spec
// that made no DataUpload has no lines of its own).
func grepFile(path string, words []string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)\n", path, err)
	}
	defer f.Close()
	var b strings.Builder
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		for _, w := range words {
			if strings.Contains(line, w) {
				b.WriteString(line + "\n")
				break
			}
		}
	}
	return b.String()
}
