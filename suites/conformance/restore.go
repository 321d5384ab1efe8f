package conformance

import (
	"context"
	"fmt"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Restored is what a Restore of one backup brought back.
type Restored struct {
	Restore, Namespace string
}

// restoredPVC is the source PVC's name, which a Restore keeps.
const restoredPVC = "data"

// Restore restores backup r into a namespace of its own (Velero's namespace mapping), waits for
// the Restore to complete and the PVC to be bound, then reads the restored volume with the
// harness's data mover: it must hold exactly the bytes written into the source before the backup.
func (k *Checker) Restore(ctx context.Context, tr *Tracker, r *Result) (*Restored, error) {
	if r.Filled == nil {
		return nil, fmt.Errorf("backup %s wrote no known data into its source: nothing to compare a restore with", r.Backup)
	}
	out := &Restored{Restore: r.Backup + "-restore", Namespace: r.Namespace + "-restored"}
	c := k.c()
	restore := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: k.Shared.VeleroNS, Name: out.Restore, Labels: managedLabels()},
		Spec: velerov1.RestoreSpec{BackupName: r.Backup, NamespaceMapping: map[string]string{r.Namespace: out.Namespace}}}
	if err := tr.Create(ctx, restore); err != nil {
		return out, fmt.Errorf("create Restore: %w", err)
	}
	// Velero creates the namespace the backup is restored into.
	tr.Track(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: out.Namespace}})
	timeout := k.Profile.Timeouts.Provision.Duration + k.Props.TimeoutCheckInterval + 3*k.Profile.Timeouts.Prepare.Duration
	if err := k.waitFor(ctx, r, "Restore "+out.Restore+" to end", timeout, func(ctx context.Context) (bool, error) {
		if c.Get(ctx, client.ObjectKeyFromObject(restore), restore) != nil {
			return false, nil
		}
		switch restore.Status.Phase {
		case velerov1.RestorePhaseCompleted, velerov1.RestorePhasePartiallyFailed, velerov1.RestorePhaseFailed, velerov1.RestorePhaseFailedValidation:
			return true, nil
		}
		return false, nil
	}); err != nil {
		return out, err
	}
	if restore.Status.Phase != velerov1.RestorePhaseCompleted {
		return out, fmt.Errorf("Restore %s ended %s (errors %d, warnings %d, %q), want Completed", out.Restore, restore.Status.Phase,
			restore.Status.Errors, restore.Status.Warnings, restore.Status.FailureReason)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k.waitFor(ctx, r, "the restored PVC to be bound", k.Profile.Timeouts.Provision.Duration, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKey{Namespace: out.Namespace, Name: restoredPVC}, pvc) == nil && pvc.Status.Phase == corev1.ClaimBound, nil
	}); err != nil {
		return out, err
	}
	// Read-only: the reader's write probe must not add a file to what is compared.
	got, err := k.runMover(ctx, tr, r, out.Namespace, "read-restored", restoredPVC, true,
		"/velero", "data-mover", "backup", "--volume-path="+moverPath, "--volume-mode=Filesystem")
	if err != nil {
		return out, err
	}
	if got.Bytes != r.Filled.Bytes || got.SHA256 != r.Filled.SHA256 {
		return out, fmt.Errorf("the volume Restore %s brought back holds %d bytes (sha256 %s) in %d files; %d bytes (sha256 %s) were written into the source before backup %s",
			out.Restore, got.Bytes, got.SHA256, got.Files, r.Filled.Bytes, r.Filled.SHA256, r.Backup)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("Restore %s Completed into %s; the restored volume holds the %d bytes written before the backup (sha256 %.12s)",
		out.Restore, out.Namespace, got.Bytes, got.SHA256))
	return out, nil
}
