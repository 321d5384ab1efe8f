package controller

import (
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

// SetupWithManager registers the DataUpload controller (DataUploads and the backupPods they own)
// and the backupPod controller that marks them Prepared (PodReconciler), workers each.
func (r *DataUploadReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	if err := ctrl.NewControllerManagedBy(mgr).Named("dataupload").
		For(&velerov2alpha1.DataUpload{}).
		Owns(&corev1.Pod{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r); err != nil {
		return err
	}
	running := predicate.NewPredicateFuncs(func(o client.Object) bool {
		pod, ok := o.(*corev1.Pod)
		return ok && (pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded) && metav1.GetControllerOf(pod) != nil
	})
	return ctrl.NewControllerManagedBy(mgr).Named("dataupload-backuppod").
		For(&corev1.Pod{}, builder.WithPredicates(running)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(PodReconciler{r})
}

// SetupWithManager registers the Backup controller: Backups and the DataUploads they own.
func (r *BackupReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).Named("backup").
		For(&velerov1.Backup{}).
		Owns(&velerov2alpha1.DataUpload{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// Scheme has every type the reference reads or writes.
func Scheme() *runtime.Scheme { return kubescheme.New() }
