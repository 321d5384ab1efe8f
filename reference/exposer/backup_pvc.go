package exposer

import (
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// buildBackupPVC is the backupPVC (spec B2-B7): named after the owner, controlled by it, from the
// backupVS, in the resolved class, ReadOnlyMany alone when readOnly, else ReadWriteOnce.
func buildBackupPVC(owner corev1.ObjectReference, backupVSName string, s backupPVCSettings, mode corev1.PersistentVolumeMode, size resource.Quantity) *corev1.PersistentVolumeClaim {
	access := corev1.ReadWriteOnce
	if s.readOnly && !mutant.Is("b4-read-only-rwo") { // negative control: readOnly still ReadWriteOnce (B4)
		access = corev1.ReadOnlyMany
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       owner.Namespace,
			Name:            owner.Name,
			Annotations:     s.annotations,
			OwnerReferences: []metav1.OwnerReference{controllerRef(owner)},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{access},
			StorageClassName: ptr.To(s.storageClass),
			VolumeMode:       ptr.To(mode),
			DataSource: &corev1.TypedLocalObjectReference{
				APIGroup: ptr.To(snapshotv1.SchemeGroupVersion.Group),
				Kind:     "VolumeSnapshot",
				Name:     backupVSName,
			},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
		},
	}
	if s.readOnly && mutant.Is("b4-extra-access-mode") {
		// negative control: ReadWriteOnce besides ReadOnlyMany (B4: nothing else).
		pvc.Spec.AccessModes = append(pvc.Spec.AccessModes, corev1.ReadWriteOnce)
	}
	if mutant.Is("b5-label") {
		pvc.Labels = map[string]string{"velero.io/data-upload": owner.Name} // negative control: a label (B5: none)
	}
	if mutant.Is("b5-owner-not-controller") {
		pvc.OwnerReferences[0].Controller = nil // negative control: owned, not controlled (B5)
	}
	if mutant.Is("b6-block-as-filesystem") {
		pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem) // negative control: the source's mode ignored (B6)
	}
	return pvc
}

func controllerRef(owner corev1.ObjectReference) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: owner.APIVersion,
		Kind:       owner.Kind,
		Name:       owner.Name,
		UID:        owner.UID,
		Controller: ptr.To(true),
	}
}

// restoreSize is the snapshot's restoreSize when set and non-zero, else the source's request (B7).
func restoreSize(vs *snapshotv1.VolumeSnapshot, fallback resource.Quantity) (resource.Quantity, bool) {
	if vs.Status != nil && vs.Status.RestoreSize != nil && !vs.Status.RestoreSize.IsZero() {
		return *vs.Status.RestoreSize, true
	}
	return fallback, false
}
