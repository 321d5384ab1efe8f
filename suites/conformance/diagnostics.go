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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/backuppvc-conformance/harness/internal/logtail"
)

// WriteDiagnostics saves what a failed spec needs to be understood into dir: the objects of the
// Velero namespace and the spec's namespaces as YAML, their events, the system under test's
// diagnosis and log lines about the spec's DataUploads, and the end of every component log.
func WriteDiagnostics(ctx context.Context, c client.Client, dir string, sh Shared, sutLogs, namespaces, dataUploads []string) error {
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
	if sh.LaneLogDir != "" {
		logs, _ := filepath.Glob(filepath.Join(sh.LaneLogDir, "*.log"))
		var b strings.Builder
		for _, l := range logs {
			fmt.Fprintf(&b, "==> %s <==\n%s\n", l, logtail.Tail(l, 40))
		}
		if err := os.WriteFile(filepath.Join(dir, "components.log"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// grepFile returns the lines of path mentioning any of words (all lines when words is empty).
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
