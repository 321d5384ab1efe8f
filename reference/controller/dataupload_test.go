package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/backuppvc-conformance/harness/reference/config"
)

const duName = "backup-1-aaaa"

// accepted runs a new DataUpload through the finalizer and accept steps.
func accepted(t *testing.T, cfg *config.NodeAgentConfigs) *duHarness {
	t.Helper()
	h := newDUHarness(t, cfg, append(source(), dataUpload())...)
	h.reconcile(duName) // finalizer
	h.reconcile(duName) // accept + expose
	return h
}

func TestDataUploadD2Accept(t *testing.T) {
	h := accepted(t, &config.NodeAgentConfigs{BackupPVCConfig: map[string]config.BackupPVC{"gold": {StorageClass: "bronze", ReadOnly: true}}})
	du := h.du(duName)
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseAccepted || du.Status.AcceptedByNode != "node-a" ||
		!du.Status.AcceptedTimestamp.Time.Equal(t0) || du.Labels[ExposeOnGoingLabel] != "true" {
		t.Fatalf("D2 accepted status = %+v labels %v", du.Status, du.Labels)
	}
	if len(du.Finalizers) != 1 || du.Finalizers[0] != DataUploadFinalizer {
		t.Errorf("finalizers = %v", du.Finalizers)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := h.c.Get(t.Context(), keyOf(duName), pvc); err != nil {
		t.Fatalf("B backupPVC not created: %v", err)
	}
	if *pvc.Spec.StorageClassName != "bronze" || len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadOnlyMany {
		t.Errorf("B1 B4 backupPVC class %s modes %v, want bronze [ReadOnlyMany]", *pvc.Spec.StorageClassName, pvc.Spec.AccessModes)
	}
	pod := &corev1.Pod{}
	if err := h.c.Get(t.Context(), keyOf(duName), pod); err != nil {
		t.Fatalf("C backupPod not created: %v", err)
	}
	if pod.Labels["velero.io/data-upload"] != duName {
		t.Errorf("C4 pod labels %v", pod.Labels)
	}
}

func TestDataUploadD2ExposeErrors(t *testing.T) {
	tests := []struct {
		name    string
		drop    string
		wantMsg string
	}{
		{name: "D2 missing source PVC", drop: "PersistentVolumeClaim", wantMsg: `failed to set exposer parameters: failed to get PVC app/data: persistentvolumeclaims "data" not found`},
		{name: "D2 missing snapshot", drop: "VolumeSnapshot", wantMsg: "error exposing snapshot: exposer: wait volume snapshot ready: volume snapshot app/velero-data-1 not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := source()
			kept := src[:0]
			for _, o := range src {
				if kindOf(o) != tc.drop {
					kept = append(kept, o)
				}
			}
			h := newDUHarness(t, nil, append(kept, dataUpload())...)
			h.reconcile(duName)
			h.reconcile(duName)
			du := h.du(duName)
			if du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed || du.Status.Message != tc.wantMsg {
				t.Fatalf("phase %s message %q, want Failed %q", du.Status.Phase, du.Status.Message, tc.wantMsg)
			}
			if du.Labels[ExposeOnGoingLabel] != "" || du.Status.CompletionTimestamp == nil {
				t.Errorf("D2 failed DU keeps label %v or lacks completion time", du.Labels)
			}
			if left := h.exposedObjects(duName); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			h.reconcile(duName)
			if len(h.du(duName).Finalizers) != 0 {
				t.Error("finalizer not removed in a final phase")
			}
		})
	}
}

func TestDataUploadD3Prepare(t *testing.T) {
	tests := []struct {
		name      string
		status    corev1.PodStatus
		wantPhase velerov2alpha1.DataUploadPhase
		wantMsg   string
	}{
		{name: "D3 running pod: Prepared", status: corev1.PodStatus{Phase: corev1.PodRunning}, wantPhase: velerov2alpha1.DataUploadPhasePrepared},
		{name: "D3 a pod seen only after it succeeded: Prepared", status: corev1.PodStatus{Phase: corev1.PodSucceeded}, wantPhase: velerov2alpha1.DataUploadPhasePrepared},
		{name: "D3 unschedulable pod stays Accepted", status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}}, wantPhase: velerov2alpha1.DataUploadPhaseAccepted},
		{name: "D3 failed pod: Canceled naming the pod", status: corev1.PodStatus{Phase: corev1.PodFailed, Message: "node lost"},
			wantPhase: velerov2alpha1.DataUploadPhaseCanceled,
			wantMsg:   "found a du velero/backup-1-aaaa with expose error: Pod is in abnormal state [Failed], message [node lost/]. mark it as cancel"},
		{name: "D3 image pull back-off: Canceled", status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull"}}}}},
			wantPhase: velerov2alpha1.DataUploadPhaseCanceled,
			wantMsg:   "found a du velero/backup-1-aaaa with expose error: Container c in Pod velero/backup-1-aaaa is in pull image failed with reason ErrImageNeverPull. mark it as cancel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := accepted(t, nil)
			h.bindBackupPVC(duName)
			h.setPod(duName, tc.status)
			h.reconcile(duName)
			du := h.du(duName)
			if du.Status.Phase != tc.wantPhase || du.Status.Message != tc.wantMsg {
				t.Fatalf("phase %s message %q, want %s %q", du.Status.Phase, du.Status.Message, tc.wantPhase, tc.wantMsg)
			}
			switch tc.wantPhase {
			case velerov2alpha1.DataUploadPhasePrepared:
				if du.Status.Node != "node-b" {
					t.Errorf("D3 node = %q, want the pod's node", du.Status.Node)
				}
			case velerov2alpha1.DataUploadPhaseCanceled:
				if left := h.exposedObjects(duName); len(left) > 0 {
					t.Errorf("D3 canceled but left behind: %v", left)
				}
			}
		})
	}
}

func TestDataUploadD4D5PrepareTimeout(t *testing.T) {
	h := accepted(t, nil)
	h.clock.SetTime(t0.Add(9 * time.Second))
	res := h.reconcile(duName)
	if h.du(duName).Status.Phase != velerov2alpha1.DataUploadPhaseAccepted {
		t.Fatal("D4 failed before the timeout")
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("D4 requeue after %v, want within the check interval", res.RequeueAfter)
	}
	h.clock.SetTime(t0.Add(10 * time.Second))
	h.reconcile(duName)
	du := h.du(duName)
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed || du.Status.Message != "timeout on preparing data upload" {
		t.Fatalf("D5 phase %s message %q", du.Status.Phase, du.Status.Message)
	}
	if _, ok := du.Labels[ExposeOnGoingLabel]; ok {
		t.Error("D5 expose-on-going label kept")
	}
	if du.Status.StartTimestamp != nil || du.Status.CompletionTimestamp != nil || du.Status.Node != "" {
		t.Errorf("D5 timeout set start %v completion %v node %q; Velero sets none", du.Status.StartTimestamp, du.Status.CompletionTimestamp, du.Status.Node)
	}
	if left := h.exposedObjects(duName); len(left) > 0 {
		t.Errorf("D5 D6 left behind: %v", left)
	}
}

func TestDataUploadD7RestartKeepsCountingFromAcceptedTimestamp(t *testing.T) {
	h := accepted(t, nil)
	// A new reconciler (a restarted process) with its clock past the persisted acceptedTimestamp.
	h.clock.SetTime(t0.Add(11 * time.Second))
	h.r = newDUReconciler(h.c, h.clock, &config.NodeAgentConfigs{})
	h.reconcile(duName)
	if du := h.du(duName); du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed || du.Status.Message != MessagePrepareTimeout {
		t.Fatalf("D7 phase %s message %q", du.Status.Phase, du.Status.Message)
	}
}

func TestDataUploadD1DataPath(t *testing.T) {
	tests := []struct {
		name      string
		final     corev1.PodStatus
		wantPhase velerov2alpha1.DataUploadPhase
		wantMsg   string
		// wantSnapshot, wantBytes, wantPath: what Velero reads from the data mover's result.
		wantSnapshot string
		wantBytes    int64
		wantPath     string
	}{
		{name: "D1 pod succeeded: Completed with the data mover's result", final: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: `{"snapshotID":"snap-42","source":{"byPath":"/uid-1"},"totalBytes":4096}`}}}}},
			wantPhase: velerov2alpha1.DataUploadPhaseCompleted, wantSnapshot: "snap-42", wantBytes: 4096, wantPath: "/uid-1"},
		// Velero v1.18.3 logs "Failed to unmarshal result message" and completes all the same.
		{name: "D1 pod succeeded with no result: Completed, no snapshot", final: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: "not a result"}}}}},
			wantPhase: velerov2alpha1.DataUploadPhaseCompleted},
		{name: "D1 pod failed: Failed", final: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: "read error"}}}}},
			wantPhase: velerov2alpha1.DataUploadPhaseFailed, wantMsg: "data path backup failed: backup pod velero/backup-1-aaaa failed: read error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := accepted(t, nil)
			h.bindBackupPVC(duName)
			h.setPod(duName, corev1.PodStatus{Phase: corev1.PodRunning})
			h.reconcile(duName) // Prepared
			h.clock.Step(time.Second)
			h.reconcile(duName) // InProgress
			du := h.du(duName)
			if du.Status.Phase != velerov2alpha1.DataUploadPhaseInProgress || du.Status.StartTimestamp == nil || du.Labels[ExposeOnGoingLabel] != "" {
				t.Fatalf("D1 in progress: %+v labels %v", du.Status, du.Labels)
			}
			h.setPod(duName, tc.final)
			h.reconcile(duName)
			du = h.du(duName)
			if du.Status.Phase != tc.wantPhase || du.Status.Message != tc.wantMsg || du.Status.CompletionTimestamp == nil {
				t.Fatalf("D1 phase %s message %q completion %v", du.Status.Phase, du.Status.Message, du.Status.CompletionTimestamp)
			}
			if du.Status.SnapshotID != tc.wantSnapshot || du.Status.Progress.TotalBytes != tc.wantBytes || du.Status.Progress.BytesDone != tc.wantBytes || du.Status.Path != tc.wantPath {
				t.Errorf("snapshotID %q progress %+v path %q, want %q, %d bytes, %q", du.Status.SnapshotID, du.Status.Progress, du.Status.Path, tc.wantSnapshot, tc.wantBytes, tc.wantPath)
			}
			if left := h.exposedObjects(duName); len(left) > 0 {
				t.Errorf("D6 left behind after the data path: %v", left)
			}
		})
	}
}

func TestDataUploadCancelAndForeign(t *testing.T) {
	t.Run("D1 cancel while Accepted", func(t *testing.T) {
		h := accepted(t, nil)
		du := h.du(duName)
		du.Spec.Cancel = true
		if err := h.c.Update(t.Context(), du); err != nil {
			t.Fatal(err)
		}
		h.reconcile(duName)
		if got := h.du(duName).Status.Phase; got != velerov2alpha1.DataUploadPhaseCanceled {
			t.Fatalf("phase %s, want Canceled", got)
		}
		if left := h.exposedObjects(duName); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	t.Run("another data mover's DataUpload is not touched", func(t *testing.T) {
		h := newDUHarness(t, nil, append(source(), dataUpload(func(d *velerov2alpha1.DataUpload) { d.Spec.DataMover = "vendor-x" }))...)
		h.reconcile(duName)
		if du := h.du(duName); du.Status.Phase != "" || len(du.Finalizers) != 0 {
			t.Fatalf("foreign DataUpload changed: %+v", du)
		}
	})
	t.Run("D2 unknown snapshot type fails", func(t *testing.T) {
		h := newDUHarness(t, nil, append(source(), dataUpload(func(d *velerov2alpha1.DataUpload) { d.Spec.SnapshotType = "Other" }))...)
		h.reconcile(duName)
		h.reconcile(duName)
		if du := h.du(duName); du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed || !strings.Contains(du.Status.Message, "Other type of snapshot exposer is not exist") {
			t.Fatalf("phase %s message %q", du.Status.Phase, du.Status.Message)
		}
	})
	t.Run("deleting a DataUpload cancels it and cleans up", func(t *testing.T) {
		h := accepted(t, nil)
		if err := h.c.Delete(t.Context(), h.du(duName)); err != nil {
			t.Fatal(err)
		}
		h.reconcile(duName) // cancel flag
		h.reconcile(duName) // Canceled + cleanup
		h.reconcile(duName) // finalizer removed: gone
		if err := h.c.Get(t.Context(), keyOf(duName), &velerov2alpha1.DataUpload{}); err == nil {
			t.Error("DataUpload still exists")
		}
		if left := h.exposedObjects(duName); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}

// The backupPod's own reconcile makes its DataUpload Prepared once the pod runs (not waiting for the
// DataUpload's queue), and leaves every other case to the DataUpload's reconcile.
func TestPodReconcilerMarksPrepared(t *testing.T) {
	tests := []struct {
		name      string
		status    corev1.PodStatus
		cancel    bool
		wantPhase velerov2alpha1.DataUploadPhase
	}{
		{name: "running pod: Prepared", status: corev1.PodStatus{Phase: corev1.PodRunning}, wantPhase: velerov2alpha1.DataUploadPhasePrepared},
		{name: "pending pod: still Accepted", status: corev1.PodStatus{Phase: corev1.PodPending}, wantPhase: velerov2alpha1.DataUploadPhaseAccepted},
		{name: "failed pod: left to the DataUpload's reconcile", status: corev1.PodStatus{Phase: corev1.PodFailed}, wantPhase: velerov2alpha1.DataUploadPhaseAccepted},
		{name: "canceled DataUpload: left to its reconcile", status: corev1.PodStatus{Phase: corev1.PodRunning}, cancel: true, wantPhase: velerov2alpha1.DataUploadPhaseAccepted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := accepted(t, nil)
			h.bindBackupPVC(duName)
			h.setPod(duName, tc.status)
			if tc.cancel {
				du := h.du(duName)
				du.Spec.Cancel = true
				if err := h.c.Update(context.Background(), du); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := (PodReconciler{h.r}).Reconcile(context.Background(), reconcile.Request{NamespacedName: keyOf(duName)}); err != nil {
				t.Fatal(err)
			}
			du := h.du(duName)
			if du.Status.Phase != tc.wantPhase {
				t.Fatalf("phase %s, want %s", du.Status.Phase, tc.wantPhase)
			}
			if tc.wantPhase == velerov2alpha1.DataUploadPhasePrepared && du.Status.Node != "node-b" {
				t.Errorf("node %q, want the pod's", du.Status.Node)
			}
		})
	}
	// A pod no DataUpload owns is not ours.
	h := newDUHarness(t, nil, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	if _, err := (PodReconciler{h.r}).Reconcile(context.Background(), reconcile.Request{NamespacedName: keyOf("other")}); err != nil {
		t.Errorf("a pod without a DataUpload owner: %v", err)
	}
}
