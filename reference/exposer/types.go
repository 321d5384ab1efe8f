package exposer

import (
	"time"

	velerotypes "github.com/vmware-tanzu/velero/pkg/types"
	"github.com/vmware-tanzu/velero/pkg/util/kube"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Labels and values Velero puts on the objects it exposes.
const (
	// BackupPVCSecretLabel marks secrets and configmaps copied for the backupPVC; value: owner UID.
	BackupPVCSecretLabel = "velero.io/backup-pvc-secret"
	// PodGroupLabel groups the exposer's pods, for the topology spread constraint.
	PodGroupLabel = "velero.io/exposer-pod-group"
	// PodGroupSnapshot is PodGroupLabel's value on backupPods.
	PodGroupSnapshot = "snapshot-exposer"
	// ManagedByLabel is the distributed-snapshotting label the backupVSC keeps from the original.
	ManagedByLabel = "snapshot.storage.kubernetes.io/managed-by"
)

// DefaultPodCommand is what Velero runs in the backupPod; the reference keeps it so the pod has
// Velero's shape, and the data-mover image provides /velero.
var DefaultPodCommand = []string{"/velero", "data-mover", "backup"}

// Params is what Expose needs from the DataUpload and the node-agent configuration.
type Params struct {
	// SnapshotName is the original VolumeSnapshot, in SourceNamespace.
	SnapshotName    string
	SourceNamespace string
	SourcePVCName   string
	SourcePVName    string
	// StorageClass is the source PVC's class: the backupPVC config lookup key (spec B1).
	StorageClass string
	// VolumeMode is the source PVC's (spec B6).
	VolumeMode corev1.PersistentVolumeMode
	// VolumeSize is the source PVC's request, used when the snapshot has no restoreSize (spec B7).
	VolumeSize resource.Quantity

	PodLabels      map[string]string
	PodAnnotations map[string]string
	Image          string
	// Command overrides DefaultPodCommand.
	Command           []string
	Resources         corev1.ResourceRequirements
	PriorityClassName string

	// OperationTimeout bounds each wait for an object to go (the DataUpload's operationTimeout).
	OperationTimeout time.Duration
	// ExposeTimeout bounds the wait for the original snapshot to be ready (the prepare timeout).
	ExposeTimeout time.Duration

	BackupPVCConfig map[string]velerotypes.BackupPVC
	LoadAffinity    []*kube.LoadAffinity
}

// Exposed is what GetExposed finds once the backupPod runs.
type Exposed struct {
	Pod *corev1.Pod
	// VolumeName is the pod volume holding the backupPVC (named after the owner's UID).
	VolumeName string
	// VolumePath is where the container sees it: a mount (Filesystem) or a device (Block).
	VolumePath string
}

// backupPVCSettings is what the config entry for the source class resolves to (spec B2-B4, B9).
type backupPVCSettings struct {
	storageClass    string
	readOnly        bool
	spcNoRelabeling bool
	annotations     map[string]string
}
