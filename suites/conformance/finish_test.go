package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// fakeLane is a lane that records whether it was taken down.
type fakeLane struct {
	lane.Lane
	healthy error
	down    bool
}

func (l *fakeLane) Healthy() error             { return l.healthy }
func (l *fakeLane) RESTConfig() *rest.Config   { return nil }
func (l *fakeLane) Down(context.Context) error { l.down = true; return nil }

// fakeSUT is a system under test that records whether it was stopped.
type fakeSUT struct {
	sut.SUT
	running error
	stopped bool
}

func (s *fakeSUT) Running() error             { return s.running }
func (s *fakeSUT) Stop(context.Context) error { s.stopped = true; return nil }

func TestFinishTearsDownWhateverTheChecksSay(t *testing.T) {
	const ns = "bpvc-velero-abc123"
	leftPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "du-1"}}
	listFails := interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("connection refused")
	}}
	tests := []struct {
		name    string
		objects []client.Object
		funcs   *interceptor.Funcs
		healthy error
		running error
		wantErr []string
	}{
		{name: "all well"},
		{name: "a leftover", objects: []client.Object{leftPod},
			wantErr: []string{"objects of Velero's expose left at the end of the run: pod du-1"}},
		{name: "the check cannot look", funcs: &listFails, wantErr: []string{"looking for leftovers: connection refused"}},
		{name: "everything wrong", objects: []client.Object{leftPod}, healthy: errors.New("etcd exited"), running: errors.New("node-agent exited"),
			wantErr: []string{"pod du-1", "a lane component died during the run: etcd exited", "the system under test died during the run: node-agent exited"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(tt.objects...)
			if tt.funcs != nil {
				b = b.WithInterceptorFuncs(*tt.funcs)
			}
			l, system := &fakeLane{healthy: tt.healthy}, &fakeSUT{running: tt.running}
			s := &Setup{Lane: l, SUT: system, Shared: Shared{VeleroNS: ns}, c: b.Build()}
			err := s.Finish(context.Background())
			if !l.down || !system.stopped {
				t.Errorf("lane down %v, system under test stopped %v: Finish must tear everything down", l.down, system.stopped)
			}
			if (err != nil) != (len(tt.wantErr) > 0) {
				t.Fatalf("Finish = %v, want an error naming %q", err, tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Finish = %v, want it to say %q", err, want)
				}
			}
		})
	}
}
