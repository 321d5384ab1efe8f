package existing

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/suites/lane"
)

// imageCheckWait bounds how long a node may take to pull and start the backupPod image.
const imageCheckWait = 2 * time.Minute

// imageProblems runs the harness's data mover image once on the cluster, as the backupPods and the
// fill pods will (pull policy IfNotPresent), writing one byte into an emptyDir: an image the nodes
// cannot pull or run stops the run here, with the kubelet's reason, instead of failing every
// backup after its prepare timeout.
func imageProblems(ctx context.Context, c client.Client, image string, within time.Duration) []string {
	return inScratchNamespace(ctx, c, "check the backupPod image", func(ns string) []string {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "image-check", Labels: lane.ManagedLabels(nil)},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To(int64(0)),
				Containers: []corev1.Container{{Name: "datamover", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
					Command:      []string{"/velero", "fill", "--path=/data", "--bytes=1", "--seed=preflight"},
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
				Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}
		if err := c.Create(ctx, pod); err != nil {
			return []string{fmt.Sprintf("cannot check the backupPod image: creating pod %s/%s: %v", ns, pod.Name, err)}
		}
		var verdict string
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, within, true, func(ctx context.Context) (bool, error) {
			if c.Get(ctx, client.ObjectKeyFromObject(pod), pod) != nil || len(pod.Status.ContainerStatuses) == 0 {
				return false, nil
			}
			switch st := pod.Status.ContainerStatuses[0].State; {
			case st.Terminated != nil && st.Terminated.ExitCode == 0:
				return true, nil
			case st.Terminated != nil:
				verdict = fmt.Sprintf("exited %d (%s %s)", st.Terminated.ExitCode, st.Terminated.Reason, st.Terminated.Message)
				return true, nil
			case st.Waiting != nil && st.Waiting.Reason != "ContainerCreating" && st.Waiting.Reason != "PodInitializing":
				// ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName, CreateContainerError...
				verdict = st.Waiting.Reason + ": " + st.Waiting.Message
				return true, nil
			}
			return false, nil
		})
		fix := "make datamover-image, push it where your nodes pull from, and give BACKUP_POD_IMAGE=<it, by digest>"
		switch {
		case verdict != "":
			return []string{fmt.Sprintf("the backupPod image %s does not run on node %q: %s: %s", image, pod.Spec.NodeName, verdict, fix)}
		case err != nil:
			return []string{fmt.Sprintf("the backupPod image %s did not run within %v (pod phase %s, node %q): %s", image, within, pod.Status.Phase, pod.Spec.NodeName, fix)}
		}
		return nil
	})
}
