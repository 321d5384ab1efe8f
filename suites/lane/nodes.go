package lane

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Schedulable: the node is Ready, not cordoned, and repels no pod by a taint (a kind control
// plane's, or the controller-manager's not-ready taint, which lingers a moment after a node
// turns Ready). The local lane waits for its nodes to be so; the suites pick one that is.
func Schedulable(n *corev1.Node) bool {
	ready := slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	})
	return ready && !n.Spec.Unschedulable && !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	})
}
