package conformance

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// probeContainer is the ephemeral container probeBackupPod adds.
const probeContainer = "backuppvc-probe"

// probeBackupPod proves, inside the backupPod of a system under test whose data mover is not the
// harness's, what the kernel lets it do with the backupPVC: it adds an ephemeral container running
// the harness's data mover with the pod's backupPVC volume mounted writable (the pod's own
// readOnly, the kubelet's mount, decide), which reads the volume and probes a write, and returns
// its report (the termination message). It runs while the backupPod runs: Velero's data mover
// connects to a new kopia repository first, which takes seconds.
func (k *Checker) probeBackupPod(ctx context.Context, r *Result) (string, error) {
	c := k.c()
	pod := &corev1.Pod{}
	key := client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}
	if err := k.waitFor(ctx, r, "the backupPod to run (to probe its volume)", k.Profile.Timeouts.Provision.Duration, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, pod); err != nil {
			return false, nil
		}
		if pod.Status.Phase != corev1.PodPending && pod.Status.Phase != corev1.PodRunning {
			return false, fmt.Errorf("backupPod %s is %s before the probe could run in it", pod.Name, pod.Status.Phase)
		}
		return pod.Status.Phase == corev1.PodRunning, nil
	}); err != nil {
		return "", err
	}
	var volume string
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == r.DataUpload {
			volume = v.Name
		}
	}
	if volume == "" {
		return "", fmt.Errorf("backupPod %s has no volume of its backupPVC to probe", pod.Name)
	}
	pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: probeContainer, Image: k.Shared.MoverImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Command:      []string{"/velero", "data-mover", "backup", "--volume-path=/" + probeContainer, "--volume-mode=Filesystem"},
		VolumeMounts: []corev1.VolumeMount{{Name: volume, MountPath: "/" + probeContainer}}}})
	if err := c.SubResource("ephemeralcontainers").Update(ctx, pod); err != nil {
		return "", fmt.Errorf("adding the probe to backupPod %s: %w", pod.Name, err)
	}
	var message string
	err := k.waitFor(ctx, r, "the probe in the backupPod to report", k.Profile.Timeouts.Provision.Duration, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, pod); err != nil {
			return false, fmt.Errorf("backupPod %s went before its probe reported: %w", key.Name, err)
		}
		for _, s := range pod.Status.EphemeralContainerStatuses {
			if s.Name == probeContainer && s.State.Terminated != nil {
				message = s.State.Terminated.Message
				return true, nil
			}
		}
		return false, nil
	})
	return message, err
}
