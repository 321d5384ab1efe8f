package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func TestTailPodLogsReadsTheClusterNow(t *testing.T) {
	pod := func(ns, name string, containers ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		}
		return p
	}
	cs := kubefake.NewClientset(pod("csi", "emulator-0", "csi-emulator", "csi-provisioner"), pod("kube-system", "etcd", "etcd"),
		pod("other", "app", "app"))
	got := tailPodLogs(context.Background(), cs, []string{"csi", "kube-system"}, 40)
	// The fake clientset answers every log request with "fake logs".
	for _, want := range []string{"==> pod csi/emulator-0 container csi-emulator <==\nfake logs\n",
		"==> pod csi/emulator-0 container csi-provisioner <==\nfake logs\n", "==> pod kube-system/etcd container etcd <==\nfake logs\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("tailPodLogs lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "other/app") {
		t.Errorf("tailPodLogs read a namespace it was not given:\n%s", got)
	}
}

// A spec's diagnostics folder holds this run's only: a components.log an earlier run wrote there
// goes, when this lane has no log folder of its own.
func TestWriteDiagnosticsLeavesNothingOfAnEarlierRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spec")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "components.log")
	if err := os.WriteFile(stale, []byte("==> the previous run's csi-provisioner <==\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(kubescheme.New()).Build()
	if err := WriteDiagnostics(context.Background(), c, dir, Shared{VeleroNS: "bpvc-velero-abc123"}, nil, []string{"bpvc-abc123-x"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v): the previous run's component logs pass for this run's", stale, err)
	}
	for _, name := range []string{"objects.yaml", "events.txt", "system-under-test.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("no %s: %v", name, err)
		}
	}
}
