package existing

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/kind"
)

// TestKindExistingLane certifies a driver the way a vendor does, on a cluster with a real kubelet:
// a kind cluster with the storage emulator installed by its owner (the kind lane; the vendor's
// profile says create: false), then make e2e LANE=existing against it with the harness's data
// mover image on the node named by BACKUP_POD_IMAGE. The specs that need a data path must run there (the
// cluster, not the lane's name, says a kubelet runs the driver), and pass; a second run with a
// wrong profile (its backup class refuses ReadOnlyMany) must fail; after each, the cluster must be
// exactly as it was: namespaces, classes, snapshot classes, CSIDrivers, CRDs (by UID and
// resourceVersion), cluster RBAC, PVs. It needs a Docker engine: make test-kind-existing runs it
// through hack/kind/with-docker.sh (BACKUPPVC_KIND=1).
func TestKindExistingLane(t *testing.T) {
	if os.Getenv("BACKUPPVC_KIND") != "1" {
		t.Skip("needs a Docker engine and the kind lane's images: make test-kind-existing runs it")
	}
	root := toolchain.RepoRoot()
	p, err := profile.Find(root, "emulator")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	art := t.TempDir()
	vendor, err := kind.Up(ctx, kind.Options{Name: fmt.Sprintf("vendor-%d", os.Getpid()), Profile: p, Images: kind.ImagesOffline, ArtifactsDir: art})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := vendor.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	scheme := kubescheme.New()
	if err := apiextv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(vendor.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The image the kind lane loaded into the node (make datamover-image's archive, named by
	// digest, did not start in containerd 1.6 here: the fill pods never ran).
	image := vendor.BackupPodImage()
	before := clusterState(ctx, t, c)

	run := func(name string, edit func(string) string, extra ...string) (results, string, error) {
		doc := vendorProfile(t, root, edit)
		out := filepath.Join(art, name)
		args := append([]string{"e2e", "LANE=existing", "DRIVER=" + doc, "KUBECONFIG=" + vendor.Kubeconfig(),
			"BACKUP_POD_IMAGE=" + image, "ARTIFACTS=" + out}, extra...)
		cmd := exec.Command("make", args...)
		cmd.Dir = root
		log, err := cmd.CombinedOutput()
		res, rerr := readResults(filepath.Join(out, "results.json"))
		if rerr != nil && err == nil {
			err = rerr
		}
		return res, tail(string(log), 60), err
	}

	t.Run("certification passes, with the data path", func(t *testing.T) {
		res, log, err := run("pass", func(s string) string { return s })
		if err != nil {
			t.Fatalf("make e2e LANE=existing on a real kubelet: %v\n%s", err, log)
		}
		for _, spec := range []string{"write-read-only", "write-writable"} {
			if v := res.verdict(spec); v != "passed" {
				t.Errorf("spec %s: %s, want passed: the cluster has a real kubelet running the driver (%s)", spec, v, res.reason(spec))
			}
		}
		expectAsFound(ctx, t, c, before)
	})
	t.Run("a wrong profile fails and leaves nothing", func(t *testing.T) {
		// The profile swaps the backup class and the one that refuses ReadOnlyMany from a snapshot:
		// the read-only specs must fail at the prepare timeout, the refusing one by completing.
		swap := strings.NewReplacer("name: emu-backup\n    role: backup", "name: emu-no-rox\n    role: backup",
			"name: emu-no-rox\n    role: refusesReadOnly", "name: emu-backup\n    role: refusesReadOnly").Replace
		res, log, err := run("fail", swap, "LABELS=readOnly && !kubelet && !scale", "PREPARE_TIMEOUT=20s")
		if err == nil {
			t.Fatalf("make e2e LANE=existing passed with a backup class that refuses ReadOnlyMany\n%s", log)
		}
		for _, spec := range []string{"read-only", "refuses-read-only"} {
			if v := res.verdict(spec); v != "failed" {
				t.Errorf("spec %s: %s, want failed (%s)\n%s", spec, v, res.reason(spec), log)
			}
		}
		expectAsFound(ctx, t, c, before)
	})
}

// vendorProfile writes the emulator's profile as its owner would for the existing lane: the
// classes are there already (create: false), the prepare timeout fits a real kubelet.
func vendorProfile(t *testing.T, root string, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "drivers", "emulator", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(strings.ReplaceAll(string(data), "create: true", "create: false"), "lanes: [local, kind]", "lanes: [existing]", 1)
	doc = strings.Replace(doc, "prepare: 15s", "prepare: 60s", 1)
	doc = doc[:strings.Index(doc, "\nlocal:")] + "\n"
	path := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(path, []byte(edit(doc)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// results is what the run's results.json says, spec by spec.
type results struct {
	Specs []struct {
		Name    string `json:"name"`
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
	} `json:"specs"`
}

func readResults(path string) (results, error) {
	var r results
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(data, &r)
}

// verdict is the verdict of the spec whose name starts with the scenario's ("" if none ran).
func (r results) verdict(scenario string) string {
	for _, s := range r.Specs {
		if strings.HasPrefix(s.Name, "backupPVC "+scenario+":") {
			return s.Verdict
		}
	}
	return "not run"
}

func (r results) reason(scenario string) string {
	for _, s := range r.Specs {
		if strings.HasPrefix(s.Name, "backupPVC "+scenario+":") {
			return s.Reason
		}
	}
	return ""
}

// clusterState is every cluster-wide object a run could touch, by kind and name, with the
// resourceVersion (and, for CRDs, the UID) it has; namespaces by name.
func clusterState(ctx context.Context, t *testing.T, c client.Client) map[string]string {
	t.Helper()
	state := map[string]string{}
	for _, l := range []struct {
		kind    string
		list    client.ObjectList
		version bool
	}{
		{"Namespace", &corev1.NamespaceList{}, false},
		{"StorageClass", &storagev1.StorageClassList{}, true},
		{"VolumeSnapshotClass", &snapshotv1.VolumeSnapshotClassList{}, true},
		{"CSIDriver", &storagev1.CSIDriverList{}, true},
		{"CustomResourceDefinition", &apiextv1.CustomResourceDefinitionList{}, true},
		{"ClusterRole", &rbacv1.ClusterRoleList{}, false},
		{"ClusterRoleBinding", &rbacv1.ClusterRoleBindingList{}, false},
		{"PersistentVolume", &corev1.PersistentVolumeList{}, true},
	} {
		if err := c.List(ctx, l.list); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(l.list)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			o := it.(client.Object)
			v := ""
			if l.version {
				v = string(o.GetUID()) + "/" + o.GetResourceVersion()
			}
			state[l.kind+" "+o.GetName()] = v
		}
	}
	return state
}

// expectAsFound waits (namespaces and PVs go asynchronously) until the cluster is as before.
func expectAsFound(ctx context.Context, t *testing.T, c client.Client, before map[string]string) {
	t.Helper()
	var diff []string
	_ = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		diff = stateDiff(before, clusterState(ctx, t, c))
		return len(diff) == 0, nil
	})
	if len(diff) > 0 {
		t.Errorf("the cluster is not as the run found it:\n%s", strings.Join(diff, "\n"))
	}
}

func stateDiff(before, after map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(before)) {
		switch a, ok := after[k]; {
		case !ok:
			out = append(out, "gone: "+k)
		case a != before[k]:
			out = append(out, fmt.Sprintf("changed: %s (%s -> %s)", k, before[k], a))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[k]; !ok {
			out = append(out, "left: "+k)
		}
	}
	return out
}
