package sut

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	fakeclientset "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func TestPodWatchCrashed(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "because"}}
	}
	done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}
	tests := []struct {
		name    string
		init    []corev1.ContainerStatus
		main    []corev1.ContainerStatus
		anyStop bool
		want    string // "" for no error
	}{
		{name: "running", main: []corev1.ContainerStatus{{Name: "velero", State: running}}},
		{name: "starting", main: []corev1.ContainerStatus{{Name: "velero", State: waiting("ContainerCreating")}}},
		{name: "crash loop", main: []corev1.ContainerStatus{{Name: "velero", State: waiting("CrashLoopBackOff"), RestartCount: 3,
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}},
			want: "pod ns/p container velero: CrashLoopBackOff because (restarted 3 times), last exit 1 Error; its log ends:\nfake logs"},
		{name: "image not loaded", main: []corev1.ContainerStatus{{Name: "velero", State: waiting("ErrImageNeverPull")}}, want: "ErrImageNeverPull"},
		{name: "init container cannot start", init: []corev1.ContainerStatus{{Name: "plugin", State: waiting("ErrImageNeverPull")}},
			main: []corev1.ContainerStatus{{Name: "velero", State: waiting("PodInitializing")}}, want: "container plugin"},
		{name: "restarted once, running again", main: []corev1.ContainerStatus{{Name: "velero", State: running, RestartCount: 1}}, want: "restarted 1 times"},
		{name: "finished init container while running", init: []corev1.ContainerStatus{{Name: "plugin", State: done}},
			main: []corev1.ContainerStatus{{Name: "velero", State: running}}, anyStop: true},
		{name: "stopped main container", main: []corev1.ContainerStatus{{Name: "velero", State: done}}, anyStop: true, want: "container velero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: map[string]string{"deploy": "velero"}},
				Spec:   corev1.PodSpec{InitContainers: []corev1.Container{{Name: "plugin"}}, Containers: []corev1.Container{{Name: "velero"}}},
				Status: corev1.PodStatus{InitContainerStatuses: tt.init, ContainerStatuses: tt.main}}
			other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other"},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "x", State: waiting("CrashLoopBackOff")}}}}
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(pod, other).Build()
			var cs kubernetes.Interface = fakeclientset.NewClientset(pod)
			err := podWatch{c: c, cs: cs, ns: "ns"}.crashed(context.Background(), "deploy=velero", tt.anyStop)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("crashed = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("crashed = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
