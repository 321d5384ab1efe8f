package sut

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/lane/kind"
)

// TestKindVeleroFaults installs Velero into a kind cluster three times, each with one object
// broken as a user's install could be: Start must fail before any spec would run, with one line
// naming the broken piece and the end of its log, and leave nothing of the install behind. It
// needs a Docker engine and the kind lane's images: make test-kind runs it through
// hack/kind/with-docker.sh (BACKUPPVC_KIND=1).
func TestKindVeleroFaults(t *testing.T) {
	if os.Getenv("BACKUPPVC_KIND") != "1" {
		t.Skip("needs a Docker engine and the kind lane's images: make test-kind runs it")
	}
	versions, err := toolchain.Versions()
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := kind.Up(ctx, kind.Options{Name: fmt.Sprintf("faults-%d", os.Getpid()), Profile: p, Images: kind.ImagesOffline, ArtifactsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(l.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		patch func(client.Object)
		want  []string // in the error, the first on its first line
	}{
		{name: "node-agent crash loop", patch: func(o client.Object) {
			if ds, ok := o.(*appsv1.DaemonSet); ok {
				addArgs(&ds.Spec.Template.Spec, "--no-such-flag")
			}
		}, want: []string{"container node-agent", "unknown flag: --no-such-flag"}},
		{name: "server image not in the node", patch: func(o client.Object) {
			if d, ok := o.(*appsv1.Deployment); ok && d.Name == "velero" {
				d.Spec.Template.Spec.Containers[0].Image = "backuppvc/velero:not-loaded"
				d.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
			}
		}, want: []string{"container velero: ErrImageNeverPull"}},
		{name: "object store unreachable", patch: func(o client.Object) {
			if b, ok := o.(*velerov1.BackupStorageLocation); ok {
				b.Spec.Config["s3Url"] = "http://127.0.0.1:9" // the server pod's own loopback, nothing listens
			}
		}, want: []string{"BackupStorageLocation default is Unavailable", "the server's log ends"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := fmt.Sprintf("bpvc-velero-fault-%d", i)
			for _, o := range []client.Object{
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: lane.ManagedLabels(nil)}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "node-agent-config", Labels: lane.ManagedLabels(nil)},
					Data: map[string]string{"node-agent-config.json": "{}"}},
			} {
				if err := c.Create(ctx, o); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { _ = c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}) })
			work := filepath.Join(t.TempDir(), "work")
			v, err := newVeleroKind(Config{SUT: "velero", Lane: "kind", Kubeconfig: l.Kubeconfig(), KindCluster: l.ClusterName(), Namespace: ns,
				NodeAgentConfigMap: "node-agent-config", PrepareTimeout: 30 * time.Second, WorkDir: work, LogDir: t.TempDir()}, versions)
			if err != nil {
				t.Fatal(err)
			}
			v.patch = tt.patch
			start := time.Now()
			err = v.Start(ctx)
			if err == nil {
				t.Fatal("Start succeeded with a broken install")
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			if !strings.Contains(first, tt.want[0]) {
				t.Errorf("Start's first line %q does not name %q; whole error:\n%v", first, tt.want[0], err)
			}
			for _, w := range tt.want[1:] {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start's error lacks %q:\n%v", w, err)
				}
			}
			t.Logf("failed after %v:\n%v", time.Since(start).Round(time.Second), err)
			expectNothingInstalled(ctx, t, c, ns)
			if _, err := os.Stat(work); !os.IsNotExist(err) {
				t.Errorf("work folder %s left (%v)", work, err)
			}
		})
	}
}

// expectNothingInstalled: none of the install's objects is left in ns (pods may still be
// terminating: their owners are gone), nor its ClusterRoleBinding.
func expectNothingInstalled(ctx context.Context, t *testing.T, c client.Client, ns string) {
	t.Helper()
	for _, l := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.DaemonSetList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{},
		&velerov1.BackupStorageLocationList{}} {
		if err := c.List(ctx, l, client.InNamespace(ns), client.MatchingLabels(lane.ManagedLabels(nil))); err != nil {
			t.Fatal(err)
		}
		if n := len(mustItems(t, l)); n > 0 {
			t.Errorf("%T: %d of the install's objects left in %s", l, n, ns)
		}
	}
	secrets := &corev1.SecretList{}
	if err := c.List(ctx, secrets, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		if s.Name == veleroCredentials || s.Name == objectStoreName {
			t.Errorf("secret %s left in %s", s.Name, ns)
		}
	}
	err := c.Get(ctx, client.ObjectKey{Name: "velero-" + ns}, &rbacv1.ClusterRoleBinding{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRoleBinding velero-%s left (%v)", ns, err)
	}
}

func mustItems(t *testing.T, l client.ObjectList) []runtime.Object {
	t.Helper()
	items, err := meta.ExtractList(l)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
