package existing

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

// TestIntegrationExistingLaneLeavesTheClusterAsFound runs the whole conformance suite the way a
// vendor certifies a driver (make e2e LANE=existing), against a local lane standing in for the
// vendor's cluster, and checks the harness left nothing and touched nothing of the vendor's.
func TestIntegrationExistingLaneLeavesTheClusterAsFound(t *testing.T) {
	toolchain.RequireIntegration(t, [2]string{"kwok", "kwokctl"}, [2]string{"kubernetes", "kube-apiserver"})
	root := toolchain.RepoRoot()
	p, err := profile.Find(root, "emulator")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	art := t.TempDir()
	vendor, err := local.Up(ctx, local.Options{Name: fmt.Sprintf("it-vendor-%d", os.Getpid()), Profile: p, ArtifactsDir: art})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := vendor.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(vendor.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	// Objects of the vendor's that a run must not touch.
	mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vendor-data"}, Data: map[string]string{"k": "v"}}
	if err := c.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	classesBefore := classNames(t, c)

	// The vendor's profile: the emulator's classes, already there (create: false), existing lane.
	data, err := os.ReadFile(filepath.Join(root, "drivers", "emulator", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(strings.ReplaceAll(string(data), "create: true", "create: false"), "lanes: [local, kind]", "lanes: [existing]", 1)
	doc = doc[:strings.Index(doc, "\nlocal:")] + "\n"
	prof := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(prof, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "e2e", "LANE=existing", "DRIVER="+prof, "KUBECONFIG="+vendor.Kubeconfig(), "ARTIFACTS="+filepath.Join(art, "e2e"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make e2e LANE=existing: %v\n%s", err, tail(string(out), 60))
	}

	// Namespaces are deleted asynchronously: give them a minute to go.
	var left []string
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		left = nil
		nss := &corev1.NamespaceList{}
		if err := c.List(ctx, nss); err != nil {
			return false, nil
		}
		for _, ns := range nss.Items {
			if strings.HasPrefix(ns.Name, "bpvc-") {
				left = append(left, "namespace "+ns.Name)
			}
		}
		return len(left) == 0, nil
	})
	if len(left) > 0 {
		t.Errorf("left on the vendor's cluster: %v", left)
	}
	if after := classNames(t, c); after != classesBefore {
		t.Errorf("storage classes changed: before %s, after %s", classesBefore, after)
	}
	got := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(mine), got); err != nil || got.Data["k"] != "v" || got.ResourceVersion != mine.ResourceVersion {
		t.Errorf("the vendor's ConfigMap was touched: %+v, %v", got.Data, err)
	}
}

func classNames(t *testing.T, c client.Client) string {
	t.Helper()
	l := &storagev1.StorageClassList{}
	if err := c.List(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range l.Items {
		names = append(names, sc.Name)
	}
	return strings.Join(names, ",")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
