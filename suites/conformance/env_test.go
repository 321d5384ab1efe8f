package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func TestSweepRunNamespaces(t *testing.T) {
	ns := func(name string, ours, terminating bool) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if ours {
			n.Labels = managedLabels()
		}
		if terminating {
			n.DeletionTimestamp = &metav1.Time{Time: time.Now()}
			n.Finalizers = []string{"kubernetes"}
		}
		return n
	}
	c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(
		ns("bpvc-abc123-override-0", true, false), // left by a spec: swept
		ns("bpvc-abc123-many-3", true, true),      // being deleted by its spec
		ns("bpvc-velero-abc123", true, false),     // the run's Velero namespace, SetUp's own
		ns("bpvc-def456-override-0", true, false), // another run's
		ns("bpvc-abc123-vendor", false, false),    // not labelled as ours
	).Build()
	ctx := context.Background()
	err := sweepRunNamespaces(ctx, c, "abc123", "bpvc-velero-abc123")
	if err == nil || !strings.Contains(err.Error(), "left 1 namespaces of the run, removed at the end: bpvc-abc123-override-0") {
		t.Fatalf("sweep = %v, want the one left namespace named", err)
	}
	for name, gone := range map[string]bool{"bpvc-abc123-override-0": true, "bpvc-velero-abc123": false, "bpvc-def456-override-0": false, "bpvc-abc123-vendor": false} {
		err := c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
		if gone != (err != nil) {
			t.Errorf("namespace %s: Get %v, want deleted=%v", name, err, gone)
		}
	}
	if err := sweepRunNamespaces(ctx, c, "abc123", "bpvc-velero-abc123"); err != nil {
		t.Errorf("second sweep = %v, want nothing left", err)
	}
}

func TestComplaints(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "velero.log")
	content := `level=info msg="Backup starting" backup=b-1
level=error msg="fail to get VolumeSnapshotClass" error="no VolumeSnapshotClass for driver x: label one" backup=b-1
level=warning msg="something else" backup=b-2
level=info msg="Waiting" dataupload=b-1-abcde
level=warning msg="expose not ready" dataupload=b-1-abcde
`
	if err := os.WriteFile(log, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got := complaints([]string{log}, []string{"b-1"}, 5)
	want := []string{`level=error msg="fail to get VolumeSnapshotClass" error="no VolumeSnapshotClass for driver x: label one" backup=b-1`,
		`level=warning msg="expose not ready" dataupload=b-1-abcde`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("complaints = %q, want %q", got, want)
	}
	if got := complaints([]string{log}, []string{"b-1"}, 1); len(got) != 1 || !strings.Contains(got[0], "expose not ready") {
		t.Errorf("the last 1 = %q", got)
	}
}
