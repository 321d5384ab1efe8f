package exposer

import (
	"context"
	"errors"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// buildBackupVS is the backupVS: named after the owner, in its namespace, pre-bound to the backupVSC,
// the original's annotations and class, and no owner reference, because the backupPVC (whose
// dataSource it is) must go first (spec B8).
func buildBackupVS(owner corev1.ObjectReference, original *snapshotv1.VolumeSnapshot) *snapshotv1.VolumeSnapshot {
	contentName := owner.Name
	return &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{
			Name:        owner.Name,
			Namespace:   owner.Namespace,
			Annotations: original.Annotations,
		},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{VolumeSnapshotContentName: &contentName},
			VolumeSnapshotClassName: original.Spec.VolumeSnapshotClassName,
		},
	}
}

// buildBackupVSC is the cluster-scoped backupVSC pointing at the original snapshot handle, with
// deletionPolicy Delete so deleting the backupVS removes the snapshot from storage (spec B8).
func buildBackupVSC(owner corev1.ObjectReference, original *snapshotv1.VolumeSnapshotContent, backupVS *snapshotv1.VolumeSnapshot) *snapshotv1.VolumeSnapshotContent {
	vsc := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{
			Name:        owner.Name,
			Annotations: original.Annotations,
			Labels:      map[string]string{},
		},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			VolumeSnapshotRef: corev1.ObjectReference{
				Name:            backupVS.Name,
				Namespace:       backupVS.Namespace,
				UID:             backupVS.UID,
				ResourceVersion: backupVS.ResourceVersion,
			},
			Source:                  snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: original.Status.SnapshotHandle},
			DeletionPolicy:          snapshotv1.VolumeSnapshotContentDelete,
			Driver:                  original.Spec.Driver,
			VolumeSnapshotClassName: original.Spec.VolumeSnapshotClassName,
		},
	}
	if mutant.Is("b8-backup-vsc-retain") {
		vsc.Spec.DeletionPolicy = snapshotv1.VolumeSnapshotContentRetain // negative control: the backupVSC outlives its backupVS (B8: Delete)
	}
	if manager, ok := original.Labels[ManagedByLabel]; ok {
		vsc.Labels[ManagedByLabel] = manager
	}
	return vsc
}

// waitSnapshotReady waits for the original VolumeSnapshot to be readyToUse, bounded by timeout.
func (e *Exposer) waitSnapshotReady(ctx context.Context, namespace, name string, timeout time.Duration) (*snapshotv1.VolumeSnapshot, error) {
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	var last error
	err := e.waitFor(ctx, vs, timeout, func(gone bool) (bool, error) {
		if gone {
			return false, fmt.Errorf("volume snapshot %s/%s not found", namespace, name)
		}
		if vs.Status != nil && vs.Status.Error != nil && vs.Status.Error.Message != nil {
			last = fmt.Errorf("volume snapshot %s/%s has error: %s", namespace, name, *vs.Status.Error.Message)
		}
		return vs.Status != nil && vs.Status.BoundVolumeSnapshotContentName != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse, nil
	})
	switch {
	case errors.Is(err, errWaitTimedOut) && last != nil:
		return nil, fmt.Errorf("volume snapshot %s/%s not ready after %v: %w", namespace, name, timeout, last)
	case errors.Is(err, errWaitTimedOut):
		return nil, fmt.Errorf("volume snapshot %s/%s not ready after %v", namespace, name, timeout)
	case err != nil:
		return nil, err
	}
	return vs, nil
}

// snapshotContent returns the content bound to vs, with its snapshot handle.
func (e *Exposer) snapshotContent(ctx context.Context, vs *snapshotv1.VolumeSnapshot) (*snapshotv1.VolumeSnapshotContent, error) {
	vsc := &snapshotv1.VolumeSnapshotContent{}
	if err := e.client.Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, vsc); err != nil {
		return nil, fmt.Errorf("get volume snapshot content %s: %w", *vs.Status.BoundVolumeSnapshotContentName, err)
	}
	if vsc.Status == nil || vsc.Status.SnapshotHandle == nil {
		return nil, fmt.Errorf("volume snapshot content %s has no snapshot handle", vsc.Name)
	}
	return vsc, nil
}

// retain sets the original content's deletionPolicy to Retain, so deleting it keeps the snapshot
// the backupVSC now points at.
func (e *Exposer) retain(ctx context.Context, vsc *snapshotv1.VolumeSnapshotContent) error {
	if vsc.Spec.DeletionPolicy == snapshotv1.VolumeSnapshotContentRetain {
		return nil
	}
	patch := client.MergeFrom(vsc.DeepCopy())
	vsc.Spec.DeletionPolicy = snapshotv1.VolumeSnapshotContentRetain
	return e.client.Patch(ctx, vsc, patch)
}

// deleteAndWait deletes obj if it exists and waits until it is gone, bounded by timeout. obj as
// last read (its resourceVersion) saves the wait a read.
func (e *Exposer) deleteAndWait(ctx context.Context, obj client.Object, timeout time.Duration) error {
	if err := e.client.Delete(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return e.waitGone(ctx, obj, timeout)
}

// waitGone waits until obj no longer exists, bounded by timeout.
func (e *Exposer) waitGone(ctx context.Context, obj client.Object, timeout time.Duration) error {
	k := client.ObjectKeyFromObject(obj)
	if err := e.waitFor(ctx, obj, timeout, func(gone bool) (bool, error) { return gone, nil }); err != nil {
		return fmt.Errorf("%s still exists after %v", k, timeout)
	}
	return nil
}
