package sut

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podWatch looks at the pods of a system that runs inside the cluster: their states and logs.
type podWatch struct {
	c  client.Client
	cs kubernetes.Interface
	ns string
}

func (p podWatch) list(ctx context.Context, selector string) ([]corev1.Pod, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, err
	}
	var pods corev1.PodList
	if err := p.c.List(ctx, &pods, client.InNamespace(p.ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	return pods.Items, nil
}

// stuckReasons are container waiting reasons that no wait will cure.
var stuckReasons = map[string]bool{"CrashLoopBackOff": true, "ErrImageNeverPull": true, "ErrImagePull": true,
	"ImagePullBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true, "InvalidImageName": true}

// crashed names a pod of selector whose container cannot start or has crashed (restarted, or, with
// anyStop, not running), with the end of its log.
func (p podWatch) crashed(ctx context.Context, selector string, anyStop bool) error {
	pods, err := p.list(ctx, selector)
	if err != nil {
		return nil // the API server is slow: a later poll will see
	}
	for _, pod := range pods {
		for _, cs := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			bad := (w != nil && stuckReasons[w.Reason]) || cs.RestartCount > 0 || (anyStop && cs.State.Running == nil && !isInit(pod, cs.Name))
			if !bad {
				continue
			}
			why := fmt.Sprintf("restarted %d times", cs.RestartCount)
			if w != nil {
				why = fmt.Sprintf("%s %s (restarted %d times)", w.Reason, w.Message, cs.RestartCount)
			}
			if t := cs.LastTerminationState.Terminated; t != nil {
				why += fmt.Sprintf(", last exit %d %s", t.ExitCode, t.Reason)
			}
			return fmt.Errorf("pod %s/%s container %s: %s; its log ends:\n%s", pod.Namespace, pod.Name, cs.Name, why,
				p.podTail(ctx, pod.Name, cs.Name, cs.RestartCount > 0, 15))
		}
	}
	return nil
}

func isInit(pod corev1.Pod, name string) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// podTail is the last lines of a container's log: its previous run's, when it restarted, else (or
// when the kubelet cannot give that one yet) the current run's, retried for a few seconds while
// the kubelet has neither.
func (p podWatch) podTail(ctx context.Context, pod, container string, previous bool, lines int64) string {
	var last error
	for range 5 {
		for _, prev := range []bool{previous, false} {
			data, err := p.cs.CoreV1().Pods(p.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: prev, TailLines: ptr.To(lines)}).DoRaw(ctx)
			// The kubelet answers with this text, not an error, when the log file has gone: here it
			// keeps only a container's latest run's (a restarted one's previous log is removed).
			if err == nil && bytes.HasPrefix(data, []byte("unable to retrieve container logs")) {
				err = errors.New(string(data))
			}
			if err == nil && len(data) > 0 {
				return strings.TrimRight(string(data), "\n")
			}
			last = err
			if !previous {
				break
			}
		}
		select {
		case <-ctx.Done():
			return "(no log: " + ctx.Err().Error() + ")"
		case <-time.After(time.Second):
		}
	}
	if last == nil {
		return "(its log is empty)"
	}
	return "(no log: " + last.Error() + ")"
}

// tail is the end of the log of the first pod of selector.
func (p podWatch) tail(ctx context.Context, selector string, lines int64) string {
	pods, err := p.list(ctx, selector)
	if err != nil || len(pods) == 0 {
		return fmt.Sprintf("(no pod %s: %v)", selector, err)
	}
	return p.podTail(ctx, pods[0].Name, pods[0].Spec.Containers[0].Name, false, lines)
}

// allLogged says whether every pod of selector has logged line.
func (p podWatch) allLogged(ctx context.Context, selector, line string) (bool, error) {
	pods, err := p.list(ctx, selector)
	if err != nil || len(pods) == 0 {
		return false, nil
	}
	for _, pod := range pods {
		data, err := p.cs.CoreV1().Pods(p.ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(data), line) {
			return false, nil
		}
	}
	return true, nil
}

// saveLogs writes the log of every container of the pods of selectors into dir as
// <pod>_<container>.log and returns the files.
func (p podWatch) saveLogs(ctx context.Context, dir string, selectors ...string) ([]string, error) {
	var files []string
	for _, sel := range selectors {
		pods, err := p.list(ctx, sel)
		if err != nil {
			return files, err
		}
		for _, pod := range pods {
			for _, ctr := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
				path := filepath.Join(dir, fmt.Sprintf("%s_%s.log", pod.Name, ctr.Name))
				if err := p.saveLog(ctx, pod.Name, ctr.Name, path); err != nil {
					return files, err
				}
				files = append(files, path)
			}
		}
	}
	return files, nil
}

func (p podWatch) saveLog(ctx context.Context, pod, container, path string) error {
	rc, err := p.cs.CoreV1().Pods(p.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("log of %s/%s: %w", pod, container, err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
