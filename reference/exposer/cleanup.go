package exposer

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// CleanUp removes everything Expose made for owner, in Velero's order (spec D6): the backupPod;
// the backupPVC with its PV (reclaim policy set to Delete first, waiting up to a minute for both);
// the copied secrets and configmaps; the backupVS (its VSC goes with it); and the original
// VolumeSnapshot vsName in sourceNamespace if it still exists. Missing objects are not errors;
// other failures are logged and the cleanup goes on.
func (e *Exposer) CleanUp(ctx context.Context, owner corev1.ObjectReference, vsName, sourceNamespace string) {
	log := e.log.WithValues("owner", owner.Name)
	k := key(owner)
	if mutant.Is("d6-snapshot-first") { // negative control: the backupVS deleted first, before the backupPVC is gone (D6)
		if err := e.client.Delete(ctx, &snapshotv1.VolumeSnapshot{ObjectMeta: objectMeta(k)}); err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "delete backupVS")
		}
	}
	if err := e.client.Delete(ctx, &corev1.Pod{ObjectMeta: objectMeta(k)}); err != nil && !apierrors.IsNotFound(err) {
		log.Error(err, "delete backupPod")
	}
	if !mutant.Is("d6-backup-pvc-left") { // negative control: the backupPVC and its PV left behind (D6)
		e.deletePVCAndPV(ctx, k, cleanUpTimeout)
	}
	e.deleteCopies(ctx, owner)
	if err := e.client.Delete(ctx, &snapshotv1.VolumeSnapshot{ObjectMeta: objectMeta(k)}); err != nil && !apierrors.IsNotFound(err) {
		log.Error(err, "delete backupVS")
	}
	if vsName != "" {
		orig := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: sourceNamespace, Name: vsName}}
		if err := e.client.Delete(ctx, orig); err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "delete original volume snapshot", "vs", sourceNamespace+"/"+vsName)
		}
	}
}

// rollback undoes a failed Expose as Velero does: everything of the owner goes; the original
// snapshot stays for the DataUpload's CleanUp to decide.
func (e *Exposer) rollback(ctx context.Context, owner corev1.ObjectReference) {
	e.CleanUp(ctx, owner, "", "")
}

// deletePVCAndPV deletes the backupPVC and makes sure its PV goes too.
func (e *Exposer) deletePVCAndPV(ctx context.Context, k client.ObjectKey, timeout time.Duration) {
	log := e.log.WithValues("pvc", k.String())
	pvc := &corev1.PersistentVolumeClaim{}
	if err := e.client.Get(ctx, k, pvc); err != nil {
		if !apierrors.IsNotFound(err) {
			log.Error(err, "get backupPVC")
		}
		return
	}
	var pv *corev1.PersistentVolume
	if pvc.Spec.VolumeName != "" {
		pv = &corev1.PersistentVolume{}
		if err := e.client.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
			pv = nil
		} else if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			patch := client.MergeFrom(pv.DeepCopy())
			pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
			if err := e.client.Patch(ctx, pv, patch); err != nil {
				log.Error(err, "set backup PV reclaim policy to Delete", "pv", pv.Name)
			}
		}
	}
	if err := e.deleteAndWait(ctx, pvc, timeout); err != nil {
		log.Error(err, "delete backupPVC")
	}
	if pv != nil {
		// The provisioner deletes it once the claim is gone and the policy is Delete.
		if err := e.waitGone(ctx, pv, timeout); err != nil {
			log.Error(err, "wait for backup PV to go", "pv", pv.Name)
		}
	}
}

// deleteCopies deletes the secrets and configmaps copied for owner (spec B10), and only those.
func (e *Exposer) deleteCopies(ctx context.Context, owner corev1.ObjectReference) {
	if mutant.Is("b10-copies-kept") { // negative control: the copies are left behind (B10, D6)
		return
	}
	sel := client.MatchingLabels{BackupPVCSecretLabel: string(owner.UID)}
	in := client.InNamespace(owner.Namespace)
	for _, obj := range []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}} {
		if err := e.client.DeleteAllOf(ctx, obj, in, sel); err != nil && !apierrors.IsNotFound(err) {
			e.log.Error(err, "delete copied objects", "type", fmt.Sprintf("%T", obj))
		}
	}
}

func objectMeta(k client.ObjectKey) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}
}
