package exposer

import (
	"context"
	"fmt"
	"reflect"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// Expose makes the backupVS, backupVSC, backupPVC and backupPod for owner, in Velero's order (spec
// B8). A failure part-way deletes what this call created. Creates are idempotent: an object left
// by an earlier attempt for the same owner is reused, never duplicated.
func (e *Exposer) Expose(ctx context.Context, owner corev1.ObjectReference, p Params) (err error) {
	log := e.log.WithValues("owner", owner.Name)
	if p.VolumeMode == "" {
		p.VolumeMode = corev1.PersistentVolumeFilesystem
	}
	if p.VolumeMode != corev1.PersistentVolumeFilesystem && p.VolumeMode != corev1.PersistentVolumeBlock {
		return fmt.Errorf("exposer: unsupported volume mode %q", p.VolumeMode)
	}

	vs, err := e.waitSnapshotReady(ctx, p.SourceNamespace, p.SnapshotName, p.ExposeTimeout)
	if err != nil {
		return fmt.Errorf("exposer: wait volume snapshot ready: %w", err)
	}
	log.Info("Volume snapshot is ready", "vs", p.SnapshotName)

	if entry, ok := p.BackupPVCConfig[p.StorageClass]; ok {
		if err := e.copyNamespaced(ctx, owner, p.SourceNamespace, entry.SecretNames, entry.ConfigMapNames); err != nil {
			e.deleteCopies(ctx, owner)
			return fmt.Errorf("exposer: %w", err)
		}
	}
	// From here on, a failure rolls back everything of this owner (CleanUp knows every name).
	defer func() {
		if err != nil {
			e.rollback(ctx, owner)
		}
	}()

	vsc, err := e.snapshotContent(ctx, vs)
	if err != nil {
		return fmt.Errorf("exposer: %w", err)
	}

	backupVS := buildBackupVS(owner, vs)
	if err = e.createOrReuse(ctx, backupVS, &snapshotv1.VolumeSnapshot{}); err != nil {
		return fmt.Errorf("exposer: create backupVS %s: %w", backupVS.Name, err)
	}
	backupVSC := buildBackupVSC(owner, vsc, backupVS)
	if err = e.createOrReuse(ctx, backupVSC, &snapshotv1.VolumeSnapshotContent{}); err != nil {
		return fmt.Errorf("exposer: create backupVSC %s: %w", backupVSC.Name, err)
	}
	log.Info("Backup VS and VSC are created", "from", p.SourceNamespace+"/"+vs.Name)

	if err = e.retain(ctx, vsc); err != nil {
		return fmt.Errorf("exposer: retain volume snapshot content %s: %w", vsc.Name, err)
	}
	if err = e.deleteAndWait(ctx, &snapshotv1.VolumeSnapshot{ObjectMeta: vs.ObjectMeta}, p.OperationTimeout); err != nil {
		return fmt.Errorf("exposer: delete volume snapshot: %w", err)
	}
	if err = e.deleteAndWait(ctx, &snapshotv1.VolumeSnapshotContent{ObjectMeta: vsc.ObjectMeta}, p.OperationTimeout); err != nil {
		return fmt.Errorf("exposer: delete volume snapshot content: %w", err)
	}
	log.Info("Original VS and VSC are deleted", "vs", vs.Name, "vsc", vsc.Name)

	size, fromSnapshot := restoreSize(vs, p.VolumeSize)
	if mutant.Is("b7-size-from-source") {
		size = p.VolumeSize // negative control: the source PVC's request even when the snapshot's restoreSize differs (B7)
	}
	if !fromSnapshot {
		log.Info("WARNING: the snapshot has no valid restore size, using the source volume's size", "size", size.String())
	}
	settings := resolveSettings(p, log)
	dataSource := backupVS.Name
	if mutant.Is("b6-data-source-original") {
		dataSource = vs.Name // negative control: restored from the original snapshot's name, not the backupVS (B6)
	}
	pvc := buildBackupPVC(owner, dataSource, settings, p.VolumeMode, size)
	if err = e.createOrReuse(ctx, pvc, &corev1.PersistentVolumeClaim{}); err != nil {
		return fmt.Errorf("exposer: create backupPVC %s: %w", pvc.Name, err)
	}
	log.Info("Backup PVC is created", "storageClass", settings.storageClass, "accessModes", pvc.Spec.AccessModes)

	pod := buildBackupPod(owner, pvc, settings, p)
	if err = e.createOrReuse(ctx, pod, &corev1.Pod{}); err != nil {
		return fmt.Errorf("exposer: create backupPod %s: %w", pod.Name, err)
	}
	log.Info("Backup pod is created", "pod", pod.Name)
	return nil
}

// createOrReuse creates obj. When it already exists it is reused if it is ours: controlled by the
// same owner (PVC, pod), or pre-bound the same way (backupVS to the backupVSC, and back).
func (e *Exposer) createOrReuse(ctx context.Context, obj, existing client.Object) error {
	err := e.client.Create(ctx, obj)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return err
	}
	if !sameExposure(obj, existing) {
		return fmt.Errorf("%s already exists and was not made for this owner", client.ObjectKeyFromObject(obj))
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(existing).Elem())
	return nil
}

func sameExposure(want, got client.Object) bool {
	switch w := want.(type) {
	case *snapshotv1.VolumeSnapshot:
		g := got.(*snapshotv1.VolumeSnapshot)
		return g.Spec.Source.VolumeSnapshotContentName != nil && *g.Spec.Source.VolumeSnapshotContentName == *w.Spec.Source.VolumeSnapshotContentName
	case *snapshotv1.VolumeSnapshotContent:
		g := got.(*snapshotv1.VolumeSnapshotContent)
		return g.Spec.VolumeSnapshotRef.Name == w.Spec.VolumeSnapshotRef.Name && g.Spec.VolumeSnapshotRef.Namespace == w.Spec.VolumeSnapshotRef.Namespace
	}
	for _, r := range got.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller && r.UID == want.GetOwnerReferences()[0].UID {
			return true
		}
	}
	return false
}
