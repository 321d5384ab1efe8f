package exposer

import (
	"fmt"
	"maps"
	"slices"

	"github.com/vmware-tanzu/velero/pkg/util/kube"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

const (
	nodeOSLabel   = "kubernetes.io/os"
	hostnameLabel = "kubernetes.io/hostname"
)

// buildBackupPod is the backupPod (spec C1-C5): named after the owner and controlled by it, one
// volume named after the owner's UID on the backupPVC (read-only with readOnly), run as root,
// spc_t only with effective spcNoRelabeling, affinity chosen by the BACKUP PVC's class.
func buildBackupPod(owner corev1.ObjectReference, pvc *corev1.PersistentVolumeClaim, s backupPVCSettings, p Params) *corev1.Pod {
	volumeName := string(owner.UID)
	mounts, devices, path := podAttachment(volumeName, pvc.Spec.VolumeMode, s.readOnly)

	labels := maps.Clone(p.PodLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[PodGroupLabel] = PodGroupSnapshot
	if mutant.Is("c4-no-pod-group-label") {
		delete(labels, PodGroupLabel) // negative control: the exposer's pod group label missing (C4)
	}

	mode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil {
		mode = *pvc.Spec.VolumeMode
	}
	command := p.Command
	if len(command) == 0 {
		command = DefaultPodCommand
	}

	security := &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(0))}
	if mutant.Is("c3-run-as-non-root") {
		security.RunAsUser = ptr.To(int64(1000)) // negative control: the data mover not run as root (C3)
	}
	if s.spcNoRelabeling {
		security.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"}
	}

	affinityClass := s.storageClass
	if mutant.Is("c5-affinity-by-source-class") {
		affinityClass = p.StorageClass // negative control: loadAffinity matched against the source PVC's class (C5)
	}
	affinity := affinityFor(p.LoadAffinity, affinityClass)
	affinity.NodeSelector.MatchExpressions = append(affinity.NodeSelector.MatchExpressions, metav1.LabelSelectorRequirement{
		Key: nodeOSLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"windows"},
	})

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            owner.Name,
			Namespace:       owner.Namespace,
			OwnerReferences: []metav1.OwnerReference{controllerRef(owner)},
			Labels:          labels,
			Annotations:     p.PodAnnotations,
		},
		Spec: corev1.PodSpec{
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
				MaxSkew:           1,
				TopologyKey:       hostnameLabel,
				WhenUnsatisfiable: corev1.ScheduleAnyway,
				LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{PodGroupLabel: PodGroupSnapshot}},
			}},
			OS:       &corev1.PodOS{Name: corev1.Linux},
			Affinity: nodeAffinity(affinity),
			Containers: []corev1.Container{{
				Name:            string(owner.UID),
				Image:           p.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         command,
				Args: []string{
					"--volume-path=" + path,
					fmt.Sprintf("--volume-mode=%s", mode),
					"--data-upload=" + owner.Name,
					"--resource-timeout=" + p.OperationTimeout.String(),
				},
				VolumeMounts:  mounts,
				VolumeDevices: devices,
				Resources:     p.Resources,
			}},
			PriorityClassName:             p.PriorityClassName,
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Volumes: []corev1.Volume{{
				Name: volumeName,
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: pvc.Name,
					ReadOnly:  s.readOnly,
				}},
			}},
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: security,
		},
	}
	if mutant.Is("c1-restart-always") {
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways // negative control: the backupPod restarted (C1: Never)
	}
	if mutant.Is("c1-grace-period") {
		pod.Spec.TerminationGracePeriodSeconds = ptr.To(int64(30)) // negative control: a grace period (C1: 0)
	}
	if s.readOnly && mutant.Is("c2-volume-writable") {
		pod.Spec.Volumes[0].PersistentVolumeClaim.ReadOnly = false // negative control: the pod's volume writable with readOnly (C2)
	}
	return pod
}

// podAttachment mounts a Filesystem volume (read-only when asked) or attaches a Block device, at
// /<volume name> either way (spec C2).
func podAttachment(volumeName string, mode *corev1.PersistentVolumeMode, readOnly bool) ([]corev1.VolumeMount, []corev1.VolumeDevice, string) {
	path := "/" + volumeName
	if mode != nil && *mode == corev1.PersistentVolumeBlock {
		return nil, []corev1.VolumeDevice{{Name: volumeName, DevicePath: path}}, path
	}
	// negative control: the mount writable although the volume is read-only (C2).
	return []corev1.VolumeMount{{Name: volumeName, MountPath: path, ReadOnly: readOnly && !mutant.Is("c2-mount-writable")}}, nil, path
}

// affinityFor picks the loadAffinity entry for the backupPVC's class, else the first one without a
// class (spec C5), as a copy the caller may extend.
func affinityFor(list []*kube.LoadAffinity, class string) *kube.LoadAffinity {
	var global *kube.LoadAffinity
	for _, a := range list {
		if a == nil {
			continue
		}
		if a.StorageClass == class {
			global = a
			break
		}
		if a.StorageClass == "" && global == nil {
			global = a
		}
	}
	out := &kube.LoadAffinity{}
	if global != nil {
		out.StorageClass = global.StorageClass
		global.NodeSelector.DeepCopyInto(&out.NodeSelector)
	}
	return out
}

// nodeAffinity turns a load affinity into a required node affinity term.
func nodeAffinity(a *kube.LoadAffinity) *corev1.Affinity {
	var reqs []corev1.NodeSelectorRequirement
	for _, k := range slices.Sorted(maps.Keys(a.NodeSelector.MatchLabels)) {
		reqs = append(reqs, corev1.NodeSelectorRequirement{Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{a.NodeSelector.MatchLabels[k]}})
	}
	for _, e := range a.NodeSelector.MatchExpressions {
		reqs = append(reqs, corev1.NodeSelectorRequirement{Key: e.Key, Operator: corev1.NodeSelectorOperator(e.Operator), Values: e.Values})
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: reqs}},
		},
	}}
}
