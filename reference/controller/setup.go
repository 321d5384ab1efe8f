package controller

import (
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

// SetupWithManager registers the DataUpload controller: DataUploads and the backupPods they own.
func (r *DataUploadReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).Named("dataupload").
		For(&velerov2alpha1.DataUpload{}).
		Owns(&corev1.Pod{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
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
