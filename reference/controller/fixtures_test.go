package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/backuppvc-conformance/harness/reference/config"
	"github.com/backuppvc-conformance/harness/reference/exposer"
	"github.com/backuppvc-conformance/harness/reference/exposer/exposertest"
)

const (
	ns     = "velero"
	appNS  = "app"
	driver = "emulator.csi.backuppvc.io"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// source is a workload's PVC and PV with a ready snapshot, as Velero's CSI plugin leaves them.
func source() []client.Object {
	return []client.Object{
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "gold"}, Provisioner: driver},
		&corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "data", UID: "pvc-uid"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("gold"), VolumeName: "pv-data",
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
		},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-data"}},
		&snapshotv1.VolumeSnapshot{
			ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "velero-data-1"},
			Spec:       snapshotv1.VolumeSnapshotSpec{VolumeSnapshotClassName: ptr.To("snapclass")},
			Status: &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: ptr.To("content-1"), ReadyToUse: ptr.To(true),
				RestoreSize: ptr.To(resource.MustParse("1Gi"))},
		},
		&snapshotv1.VolumeSnapshotContent{
			ObjectMeta: metav1.ObjectMeta{Name: "content-1"},
			Spec: snapshotv1.VolumeSnapshotContentSpec{Driver: driver, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete,
				VolumeSnapshotRef: corev1.ObjectReference{Namespace: appNS, Name: "velero-data-1"}},
			Status: &snapshotv1.VolumeSnapshotContentStatus{SnapshotHandle: ptr.To("handle-1")},
		},
	}
}

func dataUpload(mutate ...func(*velerov2alpha1.DataUpload)) *velerov2alpha1.DataUpload {
	du := &velerov2alpha1.DataUpload{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backup-1-aaaa", UID: "du-uid"},
		Spec: velerov2alpha1.DataUploadSpec{
			SnapshotType: velerov2alpha1.SnapshotTypeCSI,
			CSISnapshot:  &velerov2alpha1.CSISnapshotSpec{VolumeSnapshot: "velero-data-1", StorageClass: "gold", SnapshotClass: "snapclass", Driver: driver},
			SourcePVC:    "data", SourceNamespace: appNS, OperationTimeout: metav1.Duration{Duration: time.Second},
		},
	}
	for _, m := range mutate {
		m(du)
	}
	return du
}

type duHarness struct {
	t     *testing.T
	c     client.WithWatch
	clock *clocktesting.FakeClock
	r     *DataUploadReconciler
}

func newDUHarness(t *testing.T, cfg *config.NodeAgentConfigs, objs ...client.Object) *duHarness {
	c := exposertest.WithAPIServerWatch(fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...).Build())
	clk := clocktesting.NewFakeClock(t0)
	if cfg == nil {
		cfg = &config.NodeAgentConfigs{}
	}
	return &duHarness{t: t, c: c, clock: clk, r: newDUReconciler(c, clk, cfg)}
}

func newDUReconciler(c client.WithWatch, clk *clocktesting.FakeClock, cfg *config.NodeAgentConfigs) *DataUploadReconciler {
	return &DataUploadReconciler{
		Client: c, Reader: c, Exposer: exposer.New(c),
		Config: cfg, Clock: clk, Log: logr.Discard(), NodeName: "node-a",
		PrepareTimeout: 10 * time.Second, PrepareCheckInterval: time.Second, Image: "mover:test",
	}
}

func (h *duHarness) reconcile(name string) reconcile.Result {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}})
	if err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func (h *duHarness) du(name string) *velerov2alpha1.DataUpload {
	h.t.Helper()
	du := &velerov2alpha1.DataUpload{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, du); err != nil {
		h.t.Fatalf("get dataupload: %v", err)
	}
	return du
}

func (h *duHarness) setPod(name string, status corev1.PodStatus) {
	h.t.Helper()
	pod := &corev1.Pod{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
		h.t.Fatalf("get backup pod: %v", err)
	}
	if pod.Spec.NodeName == "" {
		pod.Spec.NodeName = "node-b"
		if err := h.c.Update(context.Background(), pod); err != nil {
			h.t.Fatal(err)
		}
	}
	pod.Status = status
	if err := h.c.Status().Update(context.Background(), pod); err != nil {
		h.t.Fatal(err)
	}
}

func (h *duHarness) bindBackupPVC(name string) {
	h.t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pvc); err != nil {
		h.t.Fatalf("get backup pvc: %v", err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	if err := h.c.Status().Update(context.Background(), pvc); err != nil {
		h.t.Fatal(err)
	}
}

// exposedObjects lists what of the expose still exists for name.
func (h *duHarness) exposedObjects(name string) []string {
	var left []string
	k := client.ObjectKey{Namespace: ns, Name: name}
	for _, o := range []client.Object{&corev1.Pod{}, &corev1.PersistentVolumeClaim{}, &snapshotv1.VolumeSnapshot{}} {
		if h.c.Get(context.Background(), k, o) == nil {
			left = append(left, k.String())
		}
	}
	return left
}

func keyOf(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// kindOf is an object's Go type name: PersistentVolumeClaim for *v1.PersistentVolumeClaim.
func kindOf(o client.Object) string {
	s := fmt.Sprintf("%T", o)
	return s[strings.LastIndex(s, ".")+1:]
}
