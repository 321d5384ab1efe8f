package exposer

import (
	"context"
	"fmt"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// PeekExposed returns an error when the backupPod can never run: phase Failed or Unknown, or an
// image that cannot be pulled. Pending or unschedulable is not unrecoverable (spec D3).
func (e *Exposer) PeekExposed(ctx context.Context, owner corev1.ObjectReference) error {
	pod := &corev1.Pod{}
	if err := e.pods.Get(ctx, key(owner), pod); err != nil {
		if !apierrors.IsNotFound(err) {
			e.log.Error(err, "peek backup pod", "pod", owner.Name)
		}
		return nil
	}
	if bad, msg := Unrecoverable(pod); bad {
		return fmt.Errorf("%s", msg)
	}
	return nil
}

// Unrecoverable tells whether pod is in a state it cannot leave, with Velero's message.
func Unrecoverable(pod *corev1.Pod) (bool, string) {
	failed := pod.Status.Phase == corev1.PodFailed && !mutant.Is("d3-failed-pod-ignored") // negative control: a Failed backupPod waited for (D3)
	if failed || pod.Status.Phase == corev1.PodUnknown {
		// Velero's GetPodTerminateMessage: each container's message followed by a slash.
		var msg strings.Builder
		if pod.Status.Message != "" {
			msg.WriteString(pod.Status.Message + "/")
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				msg.WriteString(t.Message + "/")
			}
		}
		return true, fmt.Sprintf("Pod is in abnormal state [%s], message [%s]", pod.Status.Phase, msg.String())
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && (w.Reason == "ImagePullBackOff" || w.Reason == "ErrImageNeverPull") {
			return true, fmt.Sprintf("Container %s in Pod %s/%s is in pull image failed with reason %s", cs.Name, pod.Namespace, pod.Name, w.Reason)
		}
	}
	return false, ""
}

// TerminationMessage joins the termination messages of the pod's containers.
func TerminationMessage(pod *corev1.Pod) string {
	var parts []string
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.Message != "" {
			parts = append(parts, t.Message)
		}
	}
	return strings.Join(parts, "/")
}

// GetExposed returns the backupPod and where its volume is once the pod runs (or has already run
// to completion, which a controller that missed the Running phase must not mistake for "not yet")
// and the backupPVC is bound; nil when the pod has not run yet.
func (e *Exposer) GetExposed(ctx context.Context, owner corev1.ObjectReference) (*Exposed, error) {
	pod := &corev1.Pod{}
	if err := e.pods.Get(ctx, key(owner), pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("exposer: get backup pod %s: %w", owner.Name, err)
	}
	if pod.Status.Phase != corev1.PodRunning && pod.Status.Phase != corev1.PodSucceeded {
		return nil, nil
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := e.client.Get(ctx, key(owner), pvc); err != nil {
		return nil, fmt.Errorf("exposer: get backup pvc %s: %w", owner.Name, err)
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return nil, fmt.Errorf("exposer: backup pvc %s is %s while its pod runs", owner.Name, pvc.Status.Phase)
	}
	name := string(owner.UID)
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			_, _, path := podAttachment(name, pvc.Spec.VolumeMode, false)
			return &Exposed{Pod: pod, VolumeName: name, VolumePath: path}, nil
		}
	}
	return nil, fmt.Errorf("exposer: backup pod %s doesn't have the expected backup volume", pod.Name)
}

// Diagnose describes the backupPod, backupPVC and its PV, and the backupVS and its VSC, with their
// warning events, in Velero's words (spec D5).
func (e *Exposer) Diagnose(ctx context.Context, owner corev1.ObjectReference) string {
	var b strings.Builder
	b.WriteString("begin diagnose CSI exposer\n")
	k := key(owner)

	pod := &corev1.Pod{}
	if err := e.client.Get(ctx, k, pod); err != nil {
		pod = nil
		fmt.Fprintf(&b, "error getting backup pod %s, err: %v\n", owner.Name, err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := e.client.Get(ctx, k, pvc); err != nil {
		pvc = nil
		fmt.Fprintf(&b, "error getting backup pvc %s, err: %v\n", owner.Name, err)
	}
	vs := &snapshotv1.VolumeSnapshot{}
	if err := e.client.Get(ctx, k, vs); err != nil {
		vs = nil
		fmt.Fprintf(&b, "error getting backup vs %s, err: %v\n", owner.Name, err)
	}
	events := &corev1.EventList{}
	if err := e.client.List(ctx, events, client.InNamespace(owner.Namespace)); err != nil {
		fmt.Fprintf(&b, "error listing events, err: %v\n", err)
	}
	warnings := func(kind string, uid any) {
		for _, ev := range events.Items {
			if ev.InvolvedObject.UID == uid && ev.Type == corev1.EventTypeWarning {
				fmt.Fprintf(&b, "%s event reason %s, message %s\n", kind, ev.Reason, ev.Message)
			}
		}
	}

	if pod != nil {
		fmt.Fprintf(&b, "Pod %s/%s, phase %s, node name %s, message %s\n", pod.Namespace, pod.Name, pod.Status.Phase, pod.Spec.NodeName, pod.Status.Message)
		for _, c := range pod.Status.Conditions {
			fmt.Fprintf(&b, "Pod condition %s, status %s, reason %s, message %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		warnings("Pod", pod.UID)
	}
	if pvc != nil {
		fmt.Fprintf(&b, "PVC %s/%s, phase %s, binding to %s\n", pvc.Namespace, pvc.Name, pvc.Status.Phase, pvc.Spec.VolumeName)
		warnings("PVC", pvc.UID)
		if pvc.Spec.VolumeName != "" {
			pv := &corev1.PersistentVolume{}
			if err := e.client.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
				fmt.Fprintf(&b, "error getting backup pv %s, err: %v\n", pvc.Spec.VolumeName, err)
			} else {
				fmt.Fprintf(&b, "PV %s, phase %s, reason %s, message %s\n", pv.Name, pv.Status.Phase, pv.Status.Reason, pv.Status.Message)
			}
		}
	}
	if vs != nil {
		vscName, ready, msg := "", false, ""
		if st := vs.Status; st != nil {
			if st.BoundVolumeSnapshotContentName != nil {
				vscName = *st.BoundVolumeSnapshotContentName
			}
			ready = st.ReadyToUse != nil && *st.ReadyToUse
			if st.Error != nil && st.Error.Message != nil {
				msg = *st.Error.Message
			}
		}
		fmt.Fprintf(&b, "VS %s/%s, bind to %s, readyToUse %v, errMessage %s\n", vs.Namespace, vs.Name, vscName, ready, msg)
		warnings("VS", vs.UID)
		if vscName != "" {
			vsc := &snapshotv1.VolumeSnapshotContent{}
			if err := e.client.Get(ctx, client.ObjectKey{Name: vscName}, vsc); err != nil {
				fmt.Fprintf(&b, "error getting backup vsc %s, err: %v\n", vscName, err)
			} else {
				handle, ready, msg := "", false, ""
				if st := vsc.Status; st != nil {
					if st.SnapshotHandle != nil {
						handle = *st.SnapshotHandle
					}
					ready = st.ReadyToUse != nil && *st.ReadyToUse
					if st.Error != nil && st.Error.Message != nil {
						msg = *st.Error.Message
					}
				}
				fmt.Fprintf(&b, "VSC %s, readyToUse %v, errMessage %s, handle %s\n", vsc.Name, ready, msg, handle)
			}
		}
	}
	b.WriteString("end diagnose CSI exposer")
	return b.String()
}
