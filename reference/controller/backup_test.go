package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

type backupHarness struct {
	t        *testing.T
	c        client.Client
	clock    *clocktesting.FakeClock
	recorder *events.FakeRecorder
	r        *BackupReconciler
}

func newBackupHarness(t *testing.T, objs ...client.Object) *backupHarness {
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...).Build()
	clk := clocktesting.NewFakeClock(t0)
	rec := events.NewFakeRecorder(100)
	return &backupHarness{t: t, c: c, clock: clk, recorder: rec, r: &BackupReconciler{
		Client: c, Cluster: c, Namespace: ns, Clock: clk, Log: logr.Discard(), Recorder: rec, Poll: time.Millisecond}}
}

func (h *backupHarness) reconcile() {
	h.t.Helper()
	if _, err := h.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "backup-1"}}); err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
}

func (h *backupHarness) backup() *velerov1.Backup {
	h.t.Helper()
	b := &velerov1.Backup{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "backup-1"}, b); err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *backupHarness) dataUploads() []velerov2alpha1.DataUpload {
	h.t.Helper()
	l := &velerov2alpha1.DataUploadList{}
	if err := h.c.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		h.t.Fatal(err)
	}
	return l.Items
}

func backupObj(mutate ...func(*velerov1.Backup)) *velerov1.Backup {
	b := &velerov1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backup-1", UID: "backup-uid"},
		Spec: velerov1.BackupSpec{IncludedNamespaces: []string{appNS}, SnapshotMoveData: ptr.To(true), StorageLocation: "default",
			CSISnapshotTimeout: metav1.Duration{Duration: time.Minute}},
	}
	for _, m := range mutate {
		m(b)
	}
	return b
}

func snapshotClass(labelled bool) *snapshotv1.VolumeSnapshotClass {
	c := &snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: "snapclass"}, Driver: driver, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete}
	if labelled {
		c.Labels = map[string]string{SnapshotClassLabel: "true"}
	}
	return c
}

// workload is the source PVC and its class, without the snapshot the backup will make.
func workload() []client.Object {
	return source()[:3]
}

// snapshotReady plays the snapshot-controller: binds the backup's VolumeSnapshot to content.
func (h *backupHarness) snapshotReady() string {
	h.t.Helper()
	l := &snapshotv1.VolumeSnapshotList{}
	if err := h.c.List(context.Background(), l, client.InNamespace(appNS)); err != nil || len(l.Items) != 1 {
		h.t.Fatalf("want one VolumeSnapshot in %s, got %d (%v)", appNS, len(l.Items), err)
	}
	vs := &l.Items[0]
	vs.Status = &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: ptr.To("content-1"), ReadyToUse: ptr.To(true)}
	if err := h.c.Update(context.Background(), vs); err != nil {
		h.t.Fatal(err)
	}
	vsc := source()[4]
	if err := h.c.Create(context.Background(), vsc); err != nil {
		h.t.Fatal(err)
	}
	return vs.Name
}

func TestBackupFrontHalfCreatesSnapshotAndDataUpload(t *testing.T) {
	h := newBackupHarness(t, append(workload(), snapshotClass(true), backupObj())...)
	h.reconcile() // InProgress
	if b := h.backup(); b.Status.Phase != velerov1.BackupPhaseInProgress || b.Status.StartTimestamp == nil {
		t.Fatalf("phase %s", b.Status.Phase)
	}
	h.reconcile() // VolumeSnapshot created, not ready yet
	if len(h.dataUploads()) != 0 {
		t.Fatal("DataUpload created before the snapshot has content")
	}
	vsName := h.snapshotReady()
	h.reconcile() // DataUpload created, then waiting
	dus := h.dataUploads()
	if len(dus) != 1 {
		t.Fatalf("%d DataUploads, want 1", len(dus))
	}
	got := dus[0]
	got.ResourceVersion, got.TypeMeta = "", metav1.TypeMeta{}
	want := velerov2alpha1.DataUpload{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: got.Name,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "velero.io/v1", Kind: "Backup", Name: "backup-1", UID: "backup-uid", Controller: ptr.To(true)}},
			Labels: map[string]string{"velero.io/backup-name": "backup-1", "velero.io/backup-uid": "backup-uid", "velero.io/pvc-uid": "pvc-uid",
				"velero.io/async-operation-id": "du-" + strings.TrimPrefix(got.Name, "backup-1-")}},
		Spec: velerov2alpha1.DataUploadSpec{
			SnapshotType: velerov2alpha1.SnapshotTypeCSI,
			CSISnapshot:  &velerov2alpha1.CSISnapshotSpec{VolumeSnapshot: vsName, StorageClass: "gold", SnapshotClass: "snapclass", Driver: driver},
			SourcePVC:    "data", SourceNamespace: appNS, BackupStorageLocation: "default", OperationTimeout: metav1.Duration{Duration: time.Minute},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DataUpload (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.Name, "backup-1-") {
		t.Errorf("DataUpload name %q", got.Name)
	}
	b := h.backup()
	if b.Status.Phase != velerov1.BackupPhaseWaitingForPluginOperations || b.Status.BackupItemOperationsAttempted != 1 {
		t.Fatalf("phase %s attempted %d", b.Status.Phase, b.Status.BackupItemOperationsAttempted)
	}
	// A restarted controller repeating the step must not duplicate anything.
	b.Status.Phase = velerov1.BackupPhaseInProgress
	if err := h.c.Update(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if n := len(h.dataUploads()); n != 1 {
		t.Fatalf("after a repeated step: %d DataUploads", n)
	}
}

func TestBackupVolumeProblemsAreErrors(t *testing.T) {
	// Two classes of the driver, neither labelled nor default: Velero cannot choose.
	other := snapshotClass(false)
	other.Name = "snapclass-2"
	h := newBackupHarness(t, append(workload(), snapshotClass(false), other, backupObj())...)
	h.reconcile()
	h.reconcile()
	b := h.backup()
	if b.Status.Phase != velerov1.BackupPhaseWaitingForPluginOperationsPartiallyFailed || b.Status.Errors != 1 {
		t.Fatalf("E2 phase %s errors %d, want WaitingForPluginOperationsPartiallyFailed 1", b.Status.Phase, b.Status.Errors)
	}
	if ev := <-h.recorder.Events; !strings.Contains(ev, "failed to get VolumeSnapshotClass for provisioner "+driver) {
		t.Errorf("event %q", ev)
	}
	h.reconcile()
	h.reconcile()
	if b := h.backup(); b.Status.Phase != velerov1.BackupPhasePartiallyFailed || b.Status.CompletionTimestamp == nil {
		t.Fatalf("E2 phase %s", b.Status.Phase)
	}
}

func TestOperationErrorE1(t *testing.T) {
	for phase, want := range map[velerov2alpha1.DataUploadPhase]string{
		velerov2alpha1.DataUploadPhaseFailed:     "timeout on preparing data upload",
		velerov2alpha1.DataUploadPhaseCanceled:   "DataUpload is canceled",
		velerov2alpha1.DataUploadPhaseCompleted:  "",
		velerov2alpha1.DataUploadPhaseInProgress: "",
	} {
		du := &velerov2alpha1.DataUpload{Status: velerov2alpha1.DataUploadStatus{Phase: phase, Message: "timeout on preparing data upload"}}
		if got := OperationError(du); got != want {
			t.Errorf("E1 %s: %q, want %q", phase, got, want)
		}
	}
}

func TestBackupOutcomeE2(t *testing.T) {
	tests := []struct {
		name       string
		phases     []velerov2alpha1.DataUploadPhase
		wantPath   []velerov1.BackupPhase
		wantErrors int
		wantEvent  string
	}{
		{name: "E2 all completed", phases: []velerov2alpha1.DataUploadPhase{"Completed", "Completed"},
			wantPath: []velerov1.BackupPhase{"Finalizing", "Completed"}},
		{name: "E2 one failed", phases: []velerov2alpha1.DataUploadPhase{"Completed", "Failed"},
			wantPath:   []velerov1.BackupPhase{"WaitingForPluginOperationsPartiallyFailed", "FinalizingPartiallyFailed", "PartiallyFailed"},
			wantErrors: 1, wantEvent: "timeout on preparing data upload"},
		{name: "E1 E2 canceled", phases: []velerov2alpha1.DataUploadPhase{"Canceled"},
			wantPath:   []velerov1.BackupPhase{"WaitingForPluginOperationsPartiallyFailed", "FinalizingPartiallyFailed", "PartiallyFailed"},
			wantErrors: 1, wantEvent: "DataUpload is canceled"},
		{name: "E2 still running", phases: []velerov2alpha1.DataUploadPhase{"Completed", "Accepted"},
			wantPath: []velerov1.BackupPhase{"WaitingForPluginOperations", "WaitingForPluginOperations"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []client.Object{backupObj(func(b *velerov1.Backup) {
				b.Status = velerov1.BackupStatus{Phase: velerov1.BackupPhaseWaitingForPluginOperations, StartTimestamp: &metav1.Time{Time: t0}}
			})}
			for i, p := range tc.phases {
				objs = append(objs, dataUpload(func(d *velerov2alpha1.DataUpload) {
					d.Name = d.Name + string(rune('a'+i))
					d.Labels = map[string]string{velerov1.BackupUIDLabel: "backup-uid"}
					d.Status = velerov2alpha1.DataUploadStatus{Phase: p, Message: "timeout on preparing data upload"}
				}))
			}
			h := newBackupHarness(t, objs...)
			var path []velerov1.BackupPhase
			for range tc.wantPath {
				h.reconcile()
				path = append(path, h.backup().Status.Phase)
			}
			if diff := cmp.Diff(tc.wantPath, path); diff != "" {
				t.Fatalf("E2 phases (-want +got):\n%s", diff)
			}
			b := h.backup()
			if b.Status.Errors != tc.wantErrors {
				t.Errorf("E2 errors %d, want %d", b.Status.Errors, tc.wantErrors)
			}
			if final := path[len(path)-1]; (final == "Completed" || final == "PartiallyFailed") && b.Status.CompletionTimestamp == nil {
				t.Error("E2 no completionTimestamp")
			}
			if tc.wantEvent != "" {
				if ev := <-h.recorder.Events; !strings.Contains(ev, tc.wantEvent) || !strings.HasPrefix(ev, corev1.EventTypeWarning) {
					t.Errorf("E1 event %q, want a warning with %q", ev, tc.wantEvent)
				}
			}
		})
	}
}

func TestBackupWithoutSnapshotMoveDataIsLeftAlone(t *testing.T) {
	h := newBackupHarness(t, backupObj(func(b *velerov1.Backup) { b.Spec.SnapshotMoveData = nil }))
	h.reconcile()
	if b := h.backup(); b.Status.Phase != "" {
		t.Fatalf("a backup the reference does not own moved to %s", b.Status.Phase)
	}
}

func TestBackupSnapshotWithoutContentTimesOut(t *testing.T) {
	h := newBackupHarness(t, append(workload(), snapshotClass(true), backupObj())...)
	h.reconcile() // InProgress at t0
	h.reconcile() // snapshot made, never bound
	if b := h.backup(); b.Status.Phase != velerov1.BackupPhaseInProgress {
		t.Fatalf("phase %s before the CSI snapshot timeout", b.Status.Phase)
	}
	h.clock.SetTime(t0.Add(time.Minute + time.Second))
	h.reconcile()
	b := h.backup()
	if b.Status.Phase != velerov1.BackupPhaseWaitingForPluginOperationsPartiallyFailed || b.Status.Errors != 1 {
		t.Fatalf("phase %s errors %d", b.Status.Phase, b.Status.Errors)
	}
	if ev := <-h.recorder.Events; !strings.Contains(ev, "has no content handle after 1m0s") {
		t.Errorf("event %q", ev)
	}
}
