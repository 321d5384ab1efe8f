package conformance

import (
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The watch keeps what a VolumeSnapshot said when it was ready, also after later states without
// a status (the deletion's) and answers only for exactly one ready snapshot.
func TestSnapshotWatchReady(t *testing.T) {
	w := &SnapshotWatch{sizes: map[string]*resource.Quantity{}, ready: map[string]bool{}}
	vs := func(name string, ready bool, size string) *snapshotv1.VolumeSnapshot {
		v := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: &snapshotv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(ready)}}
		if size != "" {
			v.Status.RestoreSize = ptr.To(resource.MustParse(size))
		}
		return v
	}
	w.see(&snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	w.see(vs("a", false, ""))
	if _, _, ok := w.Ready(); ok {
		t.Fatal("Ready before any snapshot was ready")
	}
	w.see(vs("a", true, "2Gi"))
	w.see(&snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	name, size, ok := w.Ready()
	if !ok || name != "a" || size == nil || size.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Fatalf("Ready = %s %v %v, want a 2Gi", name, size, ok)
	}
	w.see(vs("b", true, ""))
	if _, _, ok := w.Ready(); ok {
		t.Error("Ready with two ready snapshots: the original is not known")
	}
	u := &SnapshotWatch{sizes: map[string]*resource.Quantity{}, ready: map[string]bool{}}
	u.see(vs("c", true, ""))
	if _, size, ok := u.Ready(); !ok || size != nil {
		t.Errorf("a ready snapshot without restoreSize: %v %v, want nil true", size, ok)
	}
}
