package sut

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/proc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

// TestIntegrationVelero starts the real Velero on a local lane twice: against a ConfigMap its
// node-agent refuses, where Start must fail naming the node-agent and Velero's reason and leave no
// process, folder or object; and against a good one, where every socket its processes (and the
// plugins the server starts) listen on must be on 127.0.0.1, and Stop must leave nothing.
func TestIntegrationVelero(t *testing.T) {
	toolchain.RequireIntegration(t, [2]string{"kwok", "kwokctl"}, [2]string{"kubernetes", "kube-apiserver"},
		[2]string{"velero", "velero"}, [2]string{"velero-plugin-for-aws", "velero-plugin-for-aws"}, [2]string{"versitygw", "versitygw"})
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// What Velero's processes would leave in /tmp (plugin sockets, copies of backupPod logs,
	// credentials/<namespace>) must stay in the SUT's work folder.
	tmpBefore := tempEntries()
	t.Cleanup(func() {
		for _, e := range tempEntries() {
			if !slices.Contains(tmpBefore, e) {
				t.Errorf("left in %s: %s", os.TempDir(), e)
			}
		}
	})
	l, err := local.Up(ctx, local.Options{Name: fmt.Sprintf("it-sut-%d", os.Getpid()), Profile: p, ArtifactsDir: t.TempDir()})
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
	ns := "velero"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]map[string]string{
		"refused": {"a.json": "{}", "b.json": "{}"},
		"good":    {"config.json": `{"backupPVC": {}}`},
	} {
		if err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := func(cm string) Config {
		return Config{SUT: "velero", Lane: "local", Kubeconfig: l.Kubeconfig(), Namespace: ns, NodeAgentConfigMap: cm,
			PrepareTimeout: time.Minute, WorkDir: filepath.Join(t.TempDir(), "work"), LogDir: t.TempDir()}
	}

	t.Run("refused ConfigMap: Start fails naming the node-agent, nothing left", func(t *testing.T) {
		s, err := New(cfg("refused"))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start(ctx)
		if err == nil {
			t.Fatal("Velero started on a ConfigMap with two data keys")
		}
		if msg := err.Error(); !strings.Contains(msg, "velero-node-agent-") || !strings.Contains(msg, "more than one keys are found in ConfigMap refused's data") {
			t.Errorf("Start error does not name the node-agent and Velero's reason:\n%v", err)
		}
		assertNothingLeft(t, c, s.(*Velero), ns)
	})

	t.Run("good ConfigMap: ready, loopback only, Stop leaves nothing", func(t *testing.T) {
		s, err := New(cfg("good"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		v := s.(*Velero)
		var pids []int
		for _, p := range v.procs {
			pids = append(pids, proc.Group(p.PID)...)
		}
		addrs := proc.Listening(pids)
		if len(addrs) == 0 {
			t.Error("no listening socket found: the check would pass on anything")
		}
		for _, a := range addrs {
			if !proc.Loopback(a) {
				t.Errorf("a Velero process listens on %s, not loopback (all: %v)", a, addrs)
			}
		}
		t.Logf("listening: %v", addrs)
		if err := s.Running(); err != nil {
			t.Error(err)
		}
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
		assertNothingLeft(t, c, v, ns)
	})
}

// veleroTempFiles matches what Velero's processes create in their temp folder: credentials/,
// go-plugin's sockets, and CreateTemp("", "") files (copies of backupPod logs, backup tarballs).
var veleroTempFiles = regexp.MustCompile(`^(credentials(/.*)?|plugin\d+|\d+)$`)

// tempEntries lists the entries of the temp folder and its credentials folder that look like
// Velero's (other tests running at the same time make files of their own there).
func tempEntries() []string {
	var out []string
	for _, dir := range []string{"", "credentials"} {
		entries, _ := os.ReadDir(filepath.Join(os.TempDir(), dir))
		for _, e := range entries {
			if name := filepath.Join(dir, e.Name()); veleroTempFiles.MatchString(name) {
				out = append(out, name)
			}
		}
	}
	return out
}

func assertNothingLeft(t *testing.T, c client.Client, v *Velero, ns string) {
	t.Helper()
	if left := proc.Mentioning(v.cfg.WorkDir); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	if _, err := os.Stat(v.cfg.WorkDir); !os.IsNotExist(err) {
		t.Errorf("work folder %s left: %v", v.cfg.WorkDir, err)
	}
	for _, o := range []struct {
		obj client.Object
		key client.ObjectKey
	}{{&appsv1.DaemonSet{}, client.ObjectKey{Namespace: ns, Name: nodeAgentDaemonSet}},
		{&velerov1.BackupStorageLocation{}, client.ObjectKey{Namespace: ns, Name: defaultBSL}},
		{&corev1.Secret{}, client.ObjectKey{Namespace: ns, Name: veleroCredentials}},
		{&corev1.ServiceAccount{}, client.ObjectKey{Namespace: ns, Name: veleroServiceAccount}},
		{&rbacv1.ClusterRoleBinding{}, client.ObjectKey{Name: "velero-" + ns}}} {
		err := c.Get(context.Background(), o.key, o.obj)
		if err == nil && o.obj.GetDeletionTimestamp() == nil {
			t.Errorf("%T %s left", o.obj, o.key)
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
}
