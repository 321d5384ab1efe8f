package kind

import (
	"context"
	"fmt"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CoreDNS forwards every name outside the cluster to the node's resolver, which is the machine's,
// and its loop plugin sends one such query at start. The lane's pods need no name outside the
// cluster, so offline the Corefile keeps the cluster's names and forwards nothing: no packet of the
// cluster leaves the machine.
var (
	forwardBlock = regexp.MustCompile(`(?m)^\s*forward \. /etc/resolv\.conf \{[^}]*\}\n`)
	loopLine     = regexp.MustCompile(`(?m)^\s*loop\n`)
)

// clusterOnlyCorefile removes the forwarding and the loop probe from a kubeadm Corefile.
func clusterOnlyCorefile(corefile string) (string, error) {
	if !forwardBlock.MatchString(corefile) {
		return "", fmt.Errorf("kind lane: kubeadm's Corefile has no forward block to remove:\n%s", corefile)
	}
	return loopLine.ReplaceAllString(forwardBlock.ReplaceAllString(corefile, ""), ""), nil
}

// keepDNSInside rewrites the coredns ConfigMap and restarts CoreDNS's pods on it. It runs right
// after kubeadm made the ConfigMap, before the node is Ready enough to start the pods.
func keepDNSInside(ctx context.Context, c client.Client) error {
	cm := &corev1.ConfigMap{}
	var getErr error
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		getErr = c.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "coredns"}, cm)
		return getErr == nil, nil
	}); err != nil {
		return fmt.Errorf("kind lane: coredns ConfigMap: %w (%v)", err, getErr)
	}
	corefile, err := clusterOnlyCorefile(cm.Data["Corefile"])
	if err != nil {
		return err
	}
	cm.Data["Corefile"] = corefile
	if err := c.Update(ctx, cm); err != nil {
		return fmt.Errorf("kind lane: update coredns ConfigMap: %w", err)
	}
	// Pods already started read the old file; new ones read this one.
	return client.IgnoreNotFound(c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": "kube-dns"}))
}
