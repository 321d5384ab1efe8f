package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LogNamespaces hold the pods whose logs are the lane's component logs: until Down writes them
// into LogDir, they are only in the cluster.
func (l *Lane) LogNamespaces() []string { return []string{l.driverNamespace(), "kube-system"} }

// collectLogs writes the node's kubelet and containerd journal and the logs of every container of
// the driver and kube-system pods into the log folder. (kind export logs needs crictl in the node,
// which the offline image does not have: cri-tools cannot be built from the module proxy.)
func (l *Lane) collectLogs(ctx context.Context) error {
	// A folder left by an earlier run of the lane would mix two clusters' logs.
	if err := os.RemoveAll(l.logDir); err != nil {
		return err
	}
	if err := os.MkdirAll(l.logDir, 0o755); err != nil {
		return err
	}
	var errs []error
	node := "bpvc-" + l.opts.Name + "-control-plane"
	journal, err := exec.CommandContext(ctx, "docker", "exec", node, "journalctl", "--no-pager", "-u", "kubelet", "-u", "containerd").CombinedOutput()
	if err != nil {
		errs = append(errs, fmt.Errorf("journal of %s: %w", node, err))
	}
	errs = append(errs, os.WriteFile(filepath.Join(l.logDir, node+"-journal.log"), journal, 0o644))
	cs, err := kubernetes.NewForConfig(l.cfg)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, ns := range l.LogNamespaces() {
		var pods corev1.PodList
		if err := l.c.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range pods.Items {
			for _, c := range p.Spec.Containers {
				data, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
				if err != nil {
					data = []byte(err.Error())
				}
				errs = append(errs, os.WriteFile(filepath.Join(l.logDir, fmt.Sprintf("%s_%s_%s.log", ns, p.Name, c.Name)), data, 0o644))
			}
		}
	}
	return errors.Join(errs...)
}
