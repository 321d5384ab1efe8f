package snapclass

import (
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const driver = "csi.example.com"

func TestSelectAsVelero(t *testing.T) {
	class := func(name, drv string, labels, annotations map[string]string) snapshotv1.VolumeSnapshotClass {
		return snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}, Driver: drv}
	}
	label := map[string]string{velerov1.VolumeSnapshotClassSelectorLabel: "false"} // any value counts, as in Velero
	def := map[string]string{velerov1.VolumeSnapshotClassKubernetesAnnotation: ""}
	tests := []struct {
		name    string
		classes []snapshotv1.VolumeSnapshotClass
		want    string
	}{
		{"the labelled one first", []snapshotv1.VolumeSnapshotClass{class("d", driver, nil, def), class("l", driver, label, nil)}, "l"},
		{"else the default", []snapshotv1.VolumeSnapshotClass{class("a", driver, nil, nil), class("d", driver, nil, def)}, "d"},
		{"else the only one of the driver", []snapshotv1.VolumeSnapshotClass{class("only", driver, nil, nil), class("x", "other.csi", label, nil)}, "only"},
		{"two, neither chosen", []snapshotv1.VolumeSnapshotClass{class("a", driver, nil, nil), class("b", driver, nil, nil)}, ""},
		{"none of the driver", []snapshotv1.VolumeSnapshotClass{class("x", "other.csi", label, nil)}, ""},
	}
	for _, tt := range tests {
		got, _, err := Select(driver, tt.classes)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("%s: Select = %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
}
