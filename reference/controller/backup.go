package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/go-logr/logr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/backuppvc-conformance/harness/internal/snapclass"
	"github.com/backuppvc-conformance/harness/reference/mutant"
)

const (
	// SnapshotClassLabel selects the VolumeSnapshotClass Velero uses for a driver.
	SnapshotClassLabel = "velero.io/csi-volumesnapshot-class"
	// DefaultSnapshotClassAnnotation marks a driver's default VolumeSnapshotClass.
	DefaultSnapshotClassAnnotation = "snapshot.storage.kubernetes.io/is-default-class"
	// MessageDataUploadCanceled is the operation error of a Canceled DataUpload (E1).
	MessageDataUploadCanceled = "DataUpload is canceled"

	defaultCSISnapshotTimeout   = 10 * time.Minute
	defaultItemOperationTimeout = 4 * time.Hour
)

// BackupReconciler plays Velero's server and CSI plugin for snapshotMoveData backups: a
// VolumeSnapshot and a DataUpload per PVC, then the backup's outcome from the DataUploads'.
// Backups without snapshotMoveData are left alone.
type BackupReconciler struct {
	// Client reads and writes Backups and DataUploads (cached, in Namespace).
	Client client.Client
	// Cluster reads PVCs, classes and snapshots in other namespaces and creates VolumeSnapshots.
	Cluster   client.Client
	Namespace string
	Clock     clock.PassiveClock
	Log       logr.Logger
	Recorder  events.EventRecorder
	// Poll is how often a backup waiting on snapshots is looked at.
	Poll time.Duration
}

// Reconcile moves one Backup one step.
func (r *BackupReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	b := &velerov1.Backup{}
	if err := r.Client.Get(ctx, req.NamespacedName, b); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if b.Spec.SnapshotMoveData == nil || !*b.Spec.SnapshotMoveData {
		return reconcile.Result{}, nil
	}
	log := r.Log.WithValues("backup", req.NamespacedName)
	switch b.Status.Phase {
	case "", velerov1.BackupPhaseNew:
		b.Status.Phase = velerov1.BackupPhaseInProgress
		b.Status.StartTimestamp = &metav1.Time{Time: r.Clock.Now()}
		b.Status.Version = 1
		b.Status.FormatVersion = "1.1.0"
		b.Status.Expiration = &metav1.Time{Time: r.Clock.Now().Add(ttl(b))}
		return reconcile.Result{}, r.Client.Update(ctx, b)
	case velerov1.BackupPhaseInProgress:
		return r.snapshotVolumes(ctx, b, log)
	case velerov1.BackupPhaseWaitingForPluginOperations, velerov1.BackupPhaseWaitingForPluginOperationsPartiallyFailed:
		return r.waitOperations(ctx, b, log)
	case velerov1.BackupPhaseFinalizing:
		return r.finish(ctx, b, velerov1.BackupPhaseCompleted)
	case velerov1.BackupPhaseFinalizingPartiallyFailed:
		return r.finish(ctx, b, velerov1.BackupPhasePartiallyFailed)
	}
	return reconcile.Result{}, nil
}

func ttl(b *velerov1.Backup) time.Duration {
	if b.Spec.TTL.Duration > 0 {
		return b.Spec.TTL.Duration
	}
	return 30 * 24 * time.Hour
}

// volume is one PVC of the backup and what happened to it so far.
type volume struct {
	pvc     corev1.PersistentVolumeClaim
	problem string // why it cannot be backed up (an error of the backup)
	skip    string // why it is not backed up (a warning)
}

// snapshotVolumes makes, idempotently, a VolumeSnapshot per PVC and, once its content has a
// handle, a DataUpload. When every PVC has its DataUpload the backup waits on them.
func (r *BackupReconciler) snapshotVolumes(ctx context.Context, b *velerov1.Backup, log logr.Logger) (reconcile.Result, error) {
	vols, err := r.volumes(ctx, b)
	if err != nil {
		return reconcile.Result{}, err
	}
	pending, attempted := 0, 0
	var errs, warnings []string
	for i := range vols {
		v := &vols[i]
		if v.skip != "" {
			warnings = append(warnings, v.skip)
			continue
		}
		if v.problem == "" {
			done, problem, err := r.snapshotVolume(ctx, b, &v.pvc, log)
			if err != nil {
				return reconcile.Result{}, err
			}
			v.problem = problem
			if done {
				attempted++
			} else if problem == "" {
				pending++
			}
		}
		if v.problem != "" {
			errs = append(errs, v.problem)
		}
	}
	if pending > 0 {
		return reconcile.Result{RequeueAfter: r.Poll}, nil
	}
	for _, e := range errs {
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, "VolumeBackupFailed", "SnapshotVolume", "%s", e)
		log.Info("volume cannot be backed up", "error", e)
	}
	for _, w := range warnings {
		r.Recorder.Eventf(b, nil, corev1.EventTypeNormal, "VolumeSkipped", "SnapshotVolume", "%s", w)
	}
	b.Status.Errors += len(errs)
	b.Status.Warnings += len(warnings)
	b.Status.BackupItemOperationsAttempted = attempted
	b.Status.Phase = velerov1.BackupPhaseWaitingForPluginOperations
	if b.Status.Errors > 0 {
		b.Status.Phase = velerov1.BackupPhaseWaitingForPluginOperationsPartiallyFailed
	}
	return reconcile.Result{RequeueAfter: r.Poll}, r.Client.Update(ctx, b)
}

// volumes lists the PVCs the backup covers: included namespaces ("*" or none: all but Velero's
// own), minus excluded ones, filtered by the label selector.
func (r *BackupReconciler) volumes(ctx context.Context, b *velerov1.Backup) ([]volume, error) {
	namespaces := b.Spec.IncludedNamespaces
	if len(namespaces) == 0 || slices.Contains(namespaces, "*") {
		list := &corev1.NamespaceList{}
		if err := r.Cluster.List(ctx, list); err != nil {
			return nil, fmt.Errorf("backup: list namespaces: %w", err)
		}
		namespaces = nil
		for _, ns := range list.Items {
			if ns.Name != r.Namespace {
				namespaces = append(namespaces, ns.Name)
			}
		}
	}
	sel := labels.Everything()
	if b.Spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(b.Spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("backup: label selector: %w", err)
		}
		sel = s
	}
	var out []volume
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		if slices.Contains(b.Spec.ExcludedNamespaces, ns) {
			continue
		}
		list := &corev1.PersistentVolumeClaimList{}
		if err := r.Cluster.List(ctx, list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, fmt.Errorf("backup: list PVCs in %s: %w", ns, err)
		}
		for _, pvc := range list.Items {
			v := volume{pvc: pvc}
			ref := ns + "/" + pvc.Name
			switch {
			case pvc.Status.Phase != corev1.ClaimBound:
				v.skip = fmt.Sprintf("PVC %s is %s, not Bound: skipped", ref, pvc.Status.Phase)
			case pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "":
				v.problem = fmt.Sprintf("PVC %s has no storage class: it cannot be snapshotted through CSI", ref)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// snapshotVolume makes the PVC's VolumeSnapshot and, once it has content with a handle, its
// DataUpload. done: the DataUpload exists. problem: the volume cannot be backed up.
func (r *BackupReconciler) snapshotVolume(ctx context.Context, b *velerov1.Backup, pvc *corev1.PersistentVolumeClaim, log logr.Logger) (bool, string, error) {
	id := shortHash(string(b.UID), string(pvc.UID))
	duName := label.GetValidName(b.Name + "-" + id)
	du := &velerov2alpha1.DataUpload{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: duName}, du); err == nil {
		return true, "", nil
	} else if !apierrors.IsNotFound(err) {
		return false, "", err
	}
	ref := pvc.Namespace + "/" + pvc.Name
	sc := &storagev1.StorageClass{}
	if err := r.Cluster.Get(ctx, client.ObjectKey{Name: *pvc.Spec.StorageClassName}, sc); err != nil {
		return false, fmt.Sprintf("PVC %s: get storage class %s: %v", ref, *pvc.Spec.StorageClassName, err), nil
	}
	class, err := r.snapshotClass(ctx, sc.Provisioner)
	if err != nil {
		return false, fmt.Sprintf("PVC %s: %v", ref, err), nil
	}

	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: pvc.Namespace,
			Name:      label.GetValidName("velero-" + pvc.Name + "-" + id),
			Labels:    map[string]string{velerov1.BackupNameLabel: label.GetValidName(b.Name), velerov1.BackupUIDLabel: string(b.UID)},
		},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: &pvc.Name},
			VolumeSnapshotClassName: &class,
		},
	}
	if err := r.Cluster.Create(ctx, vs); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, fmt.Sprintf("PVC %s: create volume snapshot: %v", ref, err), nil
	}
	if err := r.Cluster.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
		return false, "", err
	}
	vsc, ready := r.contentWithHandle(ctx, vs)
	if !ready {
		timeout := b.Spec.CSISnapshotTimeout.Duration
		if timeout == 0 {
			timeout = defaultCSISnapshotTimeout
		}
		// Measured on our clock from the backup's start, as Velero waits from when its plugin starts.
		if b.Status.StartTimestamp != nil && r.Clock.Since(b.Status.StartTimestamp.Time) > timeout {
			msg := ""
			if vs.Status != nil && vs.Status.Error != nil && vs.Status.Error.Message != nil {
				msg = ": " + *vs.Status.Error.Message
			}
			return false, fmt.Sprintf("PVC %s: volume snapshot %s has no content handle after %v%s", ref, vs.Name, timeout, msg), nil
		}
		return false, "", nil
	}

	du = &velerov2alpha1.DataUpload{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: r.Namespace,
			Name:      duName,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: velerov1.SchemeGroupVersion.String(), Kind: "Backup",
				Name: b.Name, UID: b.UID, Controller: ptr.To(true)}},
			Labels: map[string]string{
				velerov1.BackupNameLabel:       label.GetValidName(b.Name),
				velerov1.BackupUIDLabel:        string(b.UID),
				velerov1.PVCUIDLabel:           string(pvc.UID),
				velerov1.AsyncOperationIDLabel: "du-" + id,
			},
		},
		Spec: velerov2alpha1.DataUploadSpec{
			SnapshotType: velerov2alpha1.SnapshotTypeCSI,
			CSISnapshot: &velerov2alpha1.CSISnapshotSpec{
				VolumeSnapshot: vs.Name, StorageClass: *pvc.Spec.StorageClassName, SnapshotClass: class, Driver: vsc.Spec.Driver,
			},
			SourcePVC:             pvc.Name,
			SourceNamespace:       pvc.Namespace,
			DataMover:             b.Spec.DataMover,
			BackupStorageLocation: b.Spec.StorageLocation,
			OperationTimeout:      b.Spec.CSISnapshotTimeout,
		},
	}
	if du.Spec.OperationTimeout.Duration == 0 {
		du.Spec.OperationTimeout.Duration = defaultCSISnapshotTimeout
	}
	if err := r.Client.Create(ctx, du); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, "", fmt.Errorf("backup: create dataupload for PVC %s: %w", ref, err)
	}
	log.Info("DataUpload created", "pvc", ref, "dataupload", du.Name)
	return true, "", nil
}

// snapshotClass picks the VolumeSnapshotClass of a driver as Velero v1.18.3 does
// (pkg/util/csi GetVolumeSnapshotClassForStorageClass): the driver's class carrying the label
// velero.io/csi-volumesnapshot-class (any value), else one carrying the default-class annotation
// (any value), else the driver's only class.
func (r *BackupReconciler) snapshotClass(ctx context.Context, driver string) (string, error) {
	list := &snapshotv1.VolumeSnapshotClassList{}
	if err := r.Cluster.List(ctx, list); err != nil {
		return "", fmt.Errorf("list volume snapshot classes: %w", err)
	}
	name, _, err := snapclass.Select(driver, list.Items)
	return name, err
}

func (r *BackupReconciler) contentWithHandle(ctx context.Context, vs *snapshotv1.VolumeSnapshot) (*snapshotv1.VolumeSnapshotContent, bool) {
	if vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil {
		return nil, false
	}
	vsc := &snapshotv1.VolumeSnapshotContent{}
	if err := r.Cluster.Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, vsc); err != nil {
		return nil, false
	}
	return vsc, vsc.Status != nil && vsc.Status.SnapshotHandle != nil
}

func (r *BackupReconciler) dataUploads(ctx context.Context, b *velerov1.Backup) ([]velerov2alpha1.DataUpload, error) {
	list := &velerov2alpha1.DataUploadList{}
	if err := r.Client.List(ctx, list, client.InNamespace(r.Namespace), client.MatchingLabels{velerov1.BackupUIDLabel: string(b.UID)}); err != nil {
		return nil, fmt.Errorf("backup: list datauploads: %w", err)
	}
	return list.Items, nil
}

// OperationError is the error Velero's CSI plugin reports for a DataUpload, "" when it succeeded
// or is still running (E1).
func OperationError(du *velerov2alpha1.DataUpload) string {
	switch du.Status.Phase {
	case velerov2alpha1.DataUploadPhaseFailed:
		return du.Status.Message
	case velerov2alpha1.DataUploadPhaseCanceled:
		return MessageDataUploadCanceled
	}
	return ""
}

// waitOperations waits for every DataUpload to end; each failed one is an error of the backup
// (E1, E2). Operations still running after the item operation timeout fail too.
func (r *BackupReconciler) waitOperations(ctx context.Context, b *velerov1.Backup, log logr.Logger) (reconcile.Result, error) {
	dus, err := r.dataUploads(ctx, b)
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(dus) < b.Status.BackupItemOperationsAttempted {
		// The cache has not seen every DataUpload this backup made yet: never finalize early.
		return reconcile.Result{RequeueAfter: r.Poll}, nil
	}
	timeout := b.Spec.ItemOperationTimeout.Duration
	if timeout == 0 {
		timeout = defaultItemOperationTimeout
	}
	timedOut := b.Status.StartTimestamp != nil && r.Clock.Since(b.Status.StartTimestamp.Time) > timeout
	running, failed, completed := 0, 0, 0
	var errs []string
	for i := range dus {
		du := &dus[i]
		switch {
		case du.Status.Phase == velerov2alpha1.DataUploadPhaseCompleted:
			completed++
		case du.Status.Phase == velerov2alpha1.DataUploadPhaseCanceled && mutant.Is("e1-canceled-not-counted"):
			completed++ // negative control: a Canceled DataUpload counted as a success (E1)
		case finalPhase(du.Status.Phase) && mutant.Is("e1-failure-not-counted"):
			completed++ // negative control: a failed DataUpload counted as a success (E1)
		case finalPhase(du.Status.Phase):
			failed++
			errs = append(errs, fmt.Sprintf("DataUpload %s/%s for PVC %s/%s: %s", du.Namespace, du.Name, du.Spec.SourceNamespace, du.Spec.SourcePVC, OperationError(du)))
		case timedOut:
			failed++
			errs = append(errs, fmt.Sprintf("DataUpload %s/%s for PVC %s/%s: operation timed out after %v", du.Namespace, du.Name, du.Spec.SourceNamespace, du.Spec.SourcePVC, timeout))
		default:
			running++
		}
	}
	// Like Velero, the first failure is recorded in the phase before the backup finalizes.
	if failed > 0 && b.Status.Phase == velerov1.BackupPhaseWaitingForPluginOperations {
		b.Status.Phase = velerov1.BackupPhaseWaitingForPluginOperationsPartiallyFailed
		return reconcile.Result{RequeueAfter: r.Poll}, r.Client.Update(ctx, b)
	}
	if running > 0 {
		return reconcile.Result{RequeueAfter: r.Poll}, nil
	}
	for _, e := range errs {
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, "OperationFailed", "WaitOperations", "%s", e)
		log.Info("backup operation failed", "error", e)
	}
	b.Status.Errors += failed
	b.Status.BackupItemOperationsCompleted = completed
	b.Status.BackupItemOperationsFailed = failed
	b.Status.Phase = velerov1.BackupPhaseFinalizing
	if b.Status.Errors > 0 {
		b.Status.Phase = velerov1.BackupPhaseFinalizingPartiallyFailed
	}
	return reconcile.Result{}, r.Client.Update(ctx, b)
}

func (r *BackupReconciler) finish(ctx context.Context, b *velerov1.Backup, phase velerov1.BackupPhase) (reconcile.Result, error) {
	b.Status.Phase = phase
	if !mutant.Is("e2-no-completion-timestamp") { // negative control: ended with no completionTimestamp (E2)
		b.Status.CompletionTimestamp = &metav1.Time{Time: r.Clock.Now()}
	}
	return reconcile.Result{}, r.Client.Update(ctx, b)
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}
