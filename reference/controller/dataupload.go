package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/vmware-tanzu/velero/pkg/apis/velero/shared"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/backuppvc-conformance/harness/reference/config"
	"github.com/backuppvc-conformance/harness/reference/exposer"
	"github.com/backuppvc-conformance/harness/reference/mutant"
)

const (
	// ExposeOnGoingLabel marks a DataUpload between accept and the start of its data path (D2).
	ExposeOnGoingLabel = "velero.io/expose-on-going"
	// DataUploadFinalizer makes deleting a DataUpload cancel it and clean up first.
	DataUploadFinalizer = "velero.io/data-upload-download-finalizer"

	// MessagePrepareTimeout is the DataUpload's message when the prepare timeout fires (D5).
	MessagePrepareTimeout = "timeout on preparing data upload"

	// conflictRetry is how soon an accept that lost an update conflict is retried.
	conflictRetry = 100 * time.Millisecond
)

// DataUploadReconciler runs DataUploads of the CSI snapshot type through expose, prepare, the data
// path (the backupPod's run) and cleanup.
type DataUploadReconciler struct {
	// Client reads and writes DataUploads and backupPods (cached, in Namespace).
	Client ctrl.Client
	// Reader reads the source PVC and PV (uncached: they live in other namespaces).
	Reader   ctrl.Reader
	Exposer  *exposer.Exposer
	Config   *config.NodeAgentConfigs
	Clock    clock.PassiveClock
	Log      logr.Logger
	NodeName string
	// PrepareTimeout: from acceptedTimestamp to Prepared (D4, Velero's --data-mover-prepare-timeout).
	PrepareTimeout time.Duration
	// PrepareCheckInterval: how often an Accepted DataUpload is looked at (Velero: about a minute).
	PrepareCheckInterval time.Duration
	Image                string
	Command              []string
}

func owner(du *velerov2alpha1.DataUpload) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion: velerov2alpha1.SchemeGroupVersion.String(), Kind: "DataUpload",
		Namespace: du.Namespace, Name: du.Name, UID: du.UID,
	}
}

func finalPhase(p velerov2alpha1.DataUploadPhase) bool {
	return p == velerov2alpha1.DataUploadPhaseCompleted || p == velerov2alpha1.DataUploadPhaseFailed || p == velerov2alpha1.DataUploadPhaseCanceled
}

// Reconcile moves one DataUpload one step.
func (r *DataUploadReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	log := r.Log.WithValues("dataupload", req.NamespacedName)
	du := &velerov2alpha1.DataUpload{}
	if err := r.Client.Get(ctx, req.NamespacedName, du); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if du.Spec.DataMover != "" && du.Spec.DataMover != "velero" {
		return reconcile.Result{}, nil // another data mover's: not ours to touch
	}

	if finalPhase(du.Status.Phase) {
		if controllerutil.RemoveFinalizer(du, DataUploadFinalizer) {
			return reconcile.Result{}, r.Client.Update(ctx, du)
		}
		return reconcile.Result{}, nil
	}
	if controllerutil.AddFinalizer(du, DataUploadFinalizer) {
		return reconcile.Result{}, r.Client.Update(ctx, du)
	}
	if !du.DeletionTimestamp.IsZero() && !du.Spec.Cancel {
		du.Spec.Cancel = true
		du.Status.Message = "Cancel dataupload because it is being deleted"
		return reconcile.Result{}, r.Client.Update(ctx, du)
	}

	if du.Spec.SnapshotType != velerov2alpha1.SnapshotTypeCSI {
		return r.fail(ctx, du, fmt.Errorf("%s type of snapshot exposer is not exist", du.Spec.SnapshotType), "not exist type of exposer", log)
	}

	switch du.Status.Phase {
	case "", velerov2alpha1.DataUploadPhaseNew:
		return r.accept(ctx, du, log)
	case velerov2alpha1.DataUploadPhaseAccepted:
		return r.prepare(ctx, du, log)
	case velerov2alpha1.DataUploadPhasePrepared:
		if du.Spec.Cancel {
			return r.cancel(ctx, du, "", log)
		}
		// Velero starts its data path here; in the reference the backupPod's run is the data path.
		du.Status.Phase = velerov2alpha1.DataUploadPhaseInProgress
		du.Status.StartTimestamp = r.now()
		delete(du.Labels, ExposeOnGoingLabel)
		return reconcile.Result{}, r.update(ctx, du)
	case velerov2alpha1.DataUploadPhaseInProgress, velerov2alpha1.DataUploadPhaseCanceling:
		return r.progress(ctx, du, log)
	}
	return reconcile.Result{}, nil
}

// accept takes the DataUpload (D2) and exposes its snapshot; an expose error ends it in Failed.
func (r *DataUploadReconciler) accept(ctx context.Context, du *velerov2alpha1.DataUpload, log logr.Logger) (reconcile.Result, error) {
	if du.Spec.Cancel {
		return r.cancel(ctx, du, "", log)
	}
	du.Status.Phase = velerov2alpha1.DataUploadPhaseAccepted
	du.Status.AcceptedByNode = r.NodeName
	du.Status.AcceptedTimestamp = r.now()
	if du.Labels == nil {
		du.Labels = map[string]string{}
	}
	du.Labels[ExposeOnGoingLabel] = "true"
	if mutant.Is("d2-no-expose-label") {
		delete(du.Labels, ExposeOnGoingLabel) // negative control: accepted without the expose-on-going label (D2)
	}
	// Update, not patch: a conflict means someone else moved it first, and we must not expose twice.
	if err := r.Client.Update(ctx, du); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		return reconcile.Result{}, fmt.Errorf("dataupload: accept %s: %w", du.Name, err)
	}
	log.Info("Data upload is accepted")

	params, err := r.exposeParams(ctx, du)
	if err != nil {
		return r.fail(ctx, du, err, "failed to set exposer parameters", log)
	}
	if err := r.Exposer.Expose(ctx, owner(du), params); err != nil {
		return r.fail(ctx, du, err, "error exposing snapshot", log)
	}
	log.Info("Snapshot is exposed")
	return reconcile.Result{RequeueAfter: r.PrepareCheckInterval}, nil
}

func (r *DataUploadReconciler) exposeParams(ctx context.Context, du *velerov2alpha1.DataUpload) (exposer.Params, error) {
	if du.Spec.CSISnapshot == nil {
		return exposer.Params{}, fmt.Errorf("dataupload has no csiSnapshot spec")
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := r.Reader.Get(ctx, ctrl.ObjectKey{Namespace: du.Spec.SourceNamespace, Name: du.Spec.SourcePVC}, pvc); err != nil {
		return exposer.Params{}, fmt.Errorf("failed to get PVC %s/%s: %w", du.Spec.SourceNamespace, du.Spec.SourcePVC, err)
	}
	pv := &corev1.PersistentVolume{}
	if err := r.Reader.Get(ctx, ctrl.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
		return exposer.Params{}, fmt.Errorf("failed to get source PV %s: %w", pvc.Spec.VolumeName, err)
	}
	mode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil {
		mode = *pvc.Spec.VolumeMode
	}
	labels := map[string]string{velerov1.DataUploadLabel: du.Name}
	for k, v := range r.Config.PodLabels {
		labels[k] = v
	}
	return exposer.Params{
		SnapshotName:      du.Spec.CSISnapshot.VolumeSnapshot,
		SourceNamespace:   du.Spec.SourceNamespace,
		SourcePVCName:     pvc.Name,
		SourcePVName:      pv.Name,
		StorageClass:      du.Spec.CSISnapshot.StorageClass,
		VolumeMode:        mode,
		VolumeSize:        pvc.Spec.Resources.Requests[corev1.ResourceStorage],
		PodLabels:         labels,
		PodAnnotations:    r.Config.PodAnnotations,
		Image:             r.Image,
		Command:           r.Command,
		PriorityClassName: r.Config.PriorityClassName,
		OperationTimeout:  du.Spec.OperationTimeout.Duration,
		ExposeTimeout:     r.PrepareTimeout,
		BackupPVCConfig:   r.Config.BackupPVCConfig,
		LoadAffinity:      r.Config.LoadAffinity,
	}, nil
}

// processStart is when this controller process started (only a negative control reads it).
var processStart = time.Now()

// prepare watches an Accepted DataUpload: Prepared once the backupPod runs, Canceled when the pod
// can never run (D3), Failed when the prepare timeout passes (D4, D5).
func (r *DataUploadReconciler) prepare(ctx context.Context, du *velerov2alpha1.DataUpload, log logr.Logger) (reconcile.Result, error) {
	if du.Spec.Cancel {
		return r.cancel(ctx, du, du.Status.Message, log)
	}
	if mutant.Is("d3-pending-canceled") {
		// negative control: a Pending backupPod taken as unrecoverable (D3: it is not).
		pod := &corev1.Pod{}
		if r.Client.Get(ctx, ctrl.ObjectKey{Namespace: du.Namespace, Name: du.Name}, pod) == nil && pod.Status.Phase == corev1.PodPending {
			return r.cancel(ctx, du, fmt.Sprintf("found a du %s/%s with expose error: Pod is in abnormal state [Pending]. mark it as cancel", du.Namespace, du.Name), log)
		}
	}
	if err := r.Exposer.PeekExposed(ctx, owner(du)); err != nil {
		r.logDiagnosis(ctx, du, log)
		return r.cancel(ctx, du, fmt.Sprintf("found a du %s/%s with expose error: %s. mark it as cancel", du.Namespace, du.Name, err), log)
	}
	if prepared, err := r.markPrepared(ctx, du, log); prepared || err != nil {
		return reconcile.Result{}, err
	}
	if du.Status.AcceptedTimestamp == nil {
		return reconcile.Result{RequeueAfter: r.PrepareCheckInterval}, nil
	}
	timeout := r.PrepareTimeout
	if mutant.Is("d4-timeout-early") {
		timeout /= 2 // negative control: the prepare timeout fires at half its length (D4)
	}
	since := du.Status.AcceptedTimestamp.Time
	if mutant.Is("d7-count-from-restart") && processStart.After(since) {
		since = processStart // negative control: a restarted controller counts the timeout from its own start (D7)
	}
	left := timeout - r.Clock.Since(since)
	if left > 0 {
		return reconcile.Result{RequeueAfter: min(left, r.PrepareCheckInterval)}, nil
	}
	log.Info("Timeout happened for preparing dataupload")
	du.Status.Phase = velerov2alpha1.DataUploadPhaseFailed
	du.Status.Message = MessagePrepareTimeout
	if mutant.Is("d5-timeout-message") {
		du.Status.Message = "timed out preparing data upload" // negative control: not Velero's message (D5)
	}
	if !mutant.Is("d5-expose-label-kept") { // negative control: the expose-on-going label kept (D5)
		delete(du.Labels, ExposeOnGoingLabel)
	}
	if err := r.Client.Update(ctx, du); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if !mutant.Is("d5-no-diagnosis") { // negative control: the timed-out expose is not diagnosed in the log (D5)
		r.logDiagnosis(ctx, du, log)
	}
	r.cleanUp(ctx, du)
	log.Info("Dataupload has been cleaned up")
	return reconcile.Result{}, nil
}

// markPrepared makes an Accepted DataUpload Prepared once its backupPod runs (and its backupPVC is
// bound); false when the pod does not run yet.
func (r *DataUploadReconciler) markPrepared(ctx context.Context, du *velerov2alpha1.DataUpload, log logr.Logger) (bool, error) {
	exposed, err := r.Exposer.GetExposed(ctx, owner(du))
	if err != nil {
		log.Error(err, "backup pod runs but the expose is not complete")
	}
	if exposed == nil {
		return false, nil
	}
	du.Status.Phase = velerov2alpha1.DataUploadPhasePrepared
	du.Status.Node = exposed.Pod.Spec.NodeName
	if mutant.Is("d1-skip-prepared") {
		// negative control: straight from Accepted to InProgress, one phase skipped (D1, D3).
		du.Status.Phase = velerov2alpha1.DataUploadPhaseInProgress
		du.Status.StartTimestamp = r.now()
		delete(du.Labels, ExposeOnGoingLabel)
	}
	return true, r.update(ctx, du)
}

// PodReconciler makes a DataUpload Prepared as soon as its backupPod runs, from the pod's own
// queue: in the DataUpload queue that step waited behind every accept, whose expose holds a worker
// for seconds (measured by make bench at 200 backups at once: backupPod Running to Prepared, median
// 6.6 s; Velero's node-agent likewise marks Prepared from its pod watch). Everything else about an
// Accepted DataUpload (unrecoverable pods, the prepare timeout) stays with DataUploadReconciler.
type PodReconciler struct {
	*DataUploadReconciler
}

// Reconcile looks at the DataUpload that owns backupPod req.
func (r PodReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &corev1.Pod{}
	if err := r.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "DataUpload" || ref.APIVersion != velerov2alpha1.SchemeGroupVersion.String() {
		return reconcile.Result{}, nil
	}
	du := &velerov2alpha1.DataUpload{}
	if err := r.Client.Get(ctx, ctrl.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, du); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if du.UID != ref.UID || du.Status.Phase != velerov2alpha1.DataUploadPhaseAccepted || du.Spec.Cancel || !du.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	log := r.Log.WithValues("dataupload", ctrl.ObjectKeyFromObject(du))
	_, err := r.markPrepared(ctx, du, log)
	if apierrors.IsConflict(err) {
		return reconcile.Result{}, nil // the DataUpload moved meanwhile: its own reconcile goes on
	}
	return reconcile.Result{}, err
}

// progress follows the data path: the backupPod's outcome is the DataUpload's.
func (r *DataUploadReconciler) progress(ctx context.Context, du *velerov2alpha1.DataUpload, log logr.Logger) (reconcile.Result, error) {
	if du.Spec.Cancel {
		return r.cancel(ctx, du, "", log)
	}
	pod := &corev1.Pod{}
	err := r.Client.Get(ctx, ctrl.ObjectKey{Namespace: du.Namespace, Name: du.Name}, pod)
	switch {
	case apierrors.IsNotFound(err):
		return r.fail(ctx, du, fmt.Errorf("backup pod %s/%s is gone", du.Namespace, du.Name), "data path backup failed", log)
	case err != nil:
		return reconcile.Result{}, err
	case pod.Status.Phase == corev1.PodSucceeded:
		res := dataMoverResult(exposer.TerminationMessage(pod), log)
		// Clean up first, then Completed, as Velero's OnDataUploadCompleted does: a crash between
		// the two then leaves an InProgress DataUpload whose objects are gone (failed after a
		// restart), never a Completed one whose backupPVC and snapshots nothing will remove
		// (make chaos found that window). The pod is gone after CleanUp, so the update retries
		// on a conflict instead of reconciling again.
		r.cleanUp(ctx, du)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := r.Reader.Get(ctx, ctrl.ObjectKeyFromObject(du), du); err != nil {
				return err
			}
			du.Status.Phase = velerov2alpha1.DataUploadPhaseCompleted
			du.Status.Path = res.Source.ByPath
			du.Status.SnapshotID = res.SnapshotID
			du.Status.Progress = shared.DataMoveOperationProgress{TotalBytes: res.TotalBytes, BytesDone: res.TotalBytes}
			du.Status.IncrementalBytes = res.IncrementalBytes
			if res.EmptySnapshot {
				du.Status.Message = "volume was empty so no data was upload"
			}
			du.Status.CompletionTimestamp = r.now()
			delete(du.Labels, ExposeOnGoingLabel)
			return r.update(ctx, du)
		})
		if err != nil {
			return reconcile.Result{}, err
		}
		log.Info("Data upload completed")
		return reconcile.Result{}, nil
	case pod.Status.Phase == corev1.PodFailed:
		return r.fail(ctx, du, fmt.Errorf("backup pod %s/%s failed: %s", pod.Namespace, pod.Name, exposer.TerminationMessage(pod)), "data path backup failed", log)
	}
	return reconcile.Result{}, nil // the pod watch brings us back
}

// backupResult is Velero's data mover result (pkg/datapath.BackupResult), the JSON a backupPod
// leaves as its termination message.
type backupResult struct {
	SnapshotID    string `json:"snapshotID"`
	EmptySnapshot bool   `json:"emptySnapshot"`
	Source        struct {
		ByPath string `json:"byPath"`
	} `json:"source"`
	TotalBytes       int64 `json:"totalBytes"`
	IncrementalBytes int64 `json:"incrementalBytes"`
}

// dataMoverResult reads a succeeded backupPod's result as Velero does: a message that is not a
// result is logged and gives an empty one, and the DataUpload still Completes (Velero v1.18.3's
// microServiceBRWatcher and OnDataUploadCompleted), with no snapshot ID.
func dataMoverResult(message string, log logr.Logger) backupResult {
	var res backupResult
	if err := json.Unmarshal([]byte(message), &res); err != nil {
		log.Error(err, "Failed to unmarshal result message", "message", message)
		return backupResult{}
	}
	return res
}

// fail cleans up and ends the DataUpload in Failed with "<msg>: <err>" (D2).
func (r *DataUploadReconciler) fail(ctx context.Context, du *velerov2alpha1.DataUpload, cause error, msg string, log logr.Logger) (reconcile.Result, error) {
	log.Error(cause, msg)
	r.cleanUp(ctx, du)
	du.Status.Phase = velerov2alpha1.DataUploadPhaseFailed
	du.Status.Message = fmt.Sprintf("%s: %v", msg, cause)
	if du.Status.StartTimestamp.IsZero() {
		du.Status.StartTimestamp = r.now()
	}
	du.Status.CompletionTimestamp = r.now()
	delete(du.Labels, ExposeOnGoingLabel)
	return reconcile.Result{}, r.update(ctx, du)
}

// cancel ends the DataUpload in Canceled and cleans up (D3).
func (r *DataUploadReconciler) cancel(ctx context.Context, du *velerov2alpha1.DataUpload, message string, log logr.Logger) (reconcile.Result, error) {
	du.Status.Phase = velerov2alpha1.DataUploadPhaseCanceled
	if du.Status.StartTimestamp.IsZero() {
		du.Status.StartTimestamp = r.now()
	}
	du.Status.CompletionTimestamp = r.now()
	if message != "" {
		du.Status.Message = message
	}
	delete(du.Labels, ExposeOnGoingLabel)
	if err := r.update(ctx, du); err != nil {
		return reconcile.Result{}, err
	}
	log.Info("Data upload is canceled", "message", du.Status.Message)
	r.cleanUp(ctx, du)
	return reconcile.Result{}, nil
}

func (r *DataUploadReconciler) cleanUp(ctx context.Context, du *velerov2alpha1.DataUpload) {
	vs := ""
	if du.Spec.CSISnapshot != nil {
		vs = du.Spec.CSISnapshot.VolumeSnapshot
	}
	r.Exposer.CleanUp(ctx, owner(du), vs, du.Spec.SourceNamespace)
}

func (r *DataUploadReconciler) logDiagnosis(ctx context.Context, du *velerov2alpha1.DataUpload, log logr.Logger) {
	for _, line := range strings.Split(r.Exposer.Diagnose(ctx, owner(du)), "\n") {
		log.Info("[Diagnose DU expose]" + line)
	}
}

func (r *DataUploadReconciler) update(ctx context.Context, du *velerov2alpha1.DataUpload) error {
	if err := r.Client.Update(ctx, du); err != nil {
		return fmt.Errorf("dataupload: update %s: %w", du.Name, err)
	}
	return nil
}

func (r *DataUploadReconciler) now() *metav1.Time {
	return &metav1.Time{Time: r.Clock.Now()}
}
