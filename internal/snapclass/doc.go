// Package snapclass is Velero v1.18.3's choice of a CSI driver's VolumeSnapshotClass
// (pkg/util/csi GetVolumeSnapshotClassForStorageClass), in one place for the reference, which
// makes that choice, the existing lane's preflight and the doctor, which say beforehand what it
// will be.
package snapclass
