package snapclass

import (
	"fmt"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
)

// Select picks the VolumeSnapshotClass of driver as Velero v1.18.3 does for a PVC
// and backup without a snapshot class annotation: the first of the driver's classes carrying the
// label velero.io/csi-volumesnapshot-class (any value), else the first with the default-class
// annotation (any value), else the driver's only class. It returns the name and how it was picked,
// or Velero's error.
func Select(driver string, classes []snapshotv1.VolumeSnapshotClass) (string, string, error) {
	var mine []snapshotv1.VolumeSnapshotClass
	for _, c := range classes {
		if c.Driver == driver {
			mine = append(mine, c)
		}
	}
	for _, c := range mine {
		if _, ok := c.Labels[velerov1.VolumeSnapshotClassSelectorLabel]; ok {
			return c.Name, "label " + velerov1.VolumeSnapshotClassSelectorLabel, nil
		}
	}
	for _, c := range mine {
		if _, ok := c.Annotations[velerov1.VolumeSnapshotClassKubernetesAnnotation]; ok {
			return c.Name, "annotation " + velerov1.VolumeSnapshotClassKubernetesAnnotation, nil
		}
	}
	if len(mine) == 1 {
		return mine[0].Name, "the driver's only VolumeSnapshotClass", nil
	}
	var names []string
	for _, c := range mine {
		names = append(names, c.Name)
	}
	which := "there is none"
	if len(names) > 0 {
		which = "it has " + strings.Join(names, ", ") + " and none is marked"
	}
	return "", "", fmt.Errorf("error getting VolumeSnapshotClass: failed to get VolumeSnapshotClass for provisioner %s: ensure that the desired VolumeSnapshotClass has the %s label or %s annotation, and that its driver matches the StorageClass provisioner (%s)",
		driver, velerov1.VolumeSnapshotClassSelectorLabel, velerov1.VolumeSnapshotClassKubernetesAnnotation, which)
}
