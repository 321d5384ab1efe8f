package existing

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// What the tests of a vendor's certification share: the vendor's profile, make e2e LANE=existing
// run as a vendor runs it, its results, and the cluster's state before and after.

// upVendor brings up, with the emulator's profile, the cluster that stands in for a vendor's
// (up makes it; its artifacts go to art), takes it down when the test ends, and returns it with a
// client of it.
func upVendor[L lane.Lane](t *testing.T, root, art string, up func(context.Context, *profile.Profile, string) (L, error)) (L, client.Client) {
	t.Helper()
	p, err := profile.Find(root, "emulator")
	if err != nil {
		t.Fatal(err)
	}
	vendor, err := up(context.Background(), p, art)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := vendor.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return vendor, vendorClient(t, vendor.RESTConfig())
}

// vendorClient is a client of the vendor's cluster.
func vendorClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keptOnFailure is a folder for a test's artifacts (the vendor lane's component logs, each run's
// reports and diagnostics): removed when the test passes, kept under the repository's
// artifacts/integration/ when it fails, and named in the test's output.
func keptOnFailure(t *testing.T, root, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
			return
		}
		kept := filepath.Join(root, "artifacts", "integration", filepath.Base(dir))
		if err := os.MkdirAll(filepath.Dir(kept), 0o755); err == nil && os.Rename(dir, kept) == nil {
			dir = kept
		}
		t.Logf("artifacts of the failed test kept in %s", dir)
	})
	return dir
}

// vendorRun runs make e2e LANE=existing against kubeconfig with the profile at doc, reports under
// art/name; it returns the run's results, what a reader needs of its output, and its error.
func vendorRun(root, kubeconfig, doc, art, name string, extra ...string) (results, string, error) {
	out := filepath.Join(art, name)
	args := append([]string{"e2e", "LANE=existing", "DRIVER=" + doc, "KUBECONFIG=" + kubeconfig, "ARTIFACTS=" + out}, extra...)
	cmd := exec.Command("make", args...)
	cmd.Dir = root
	log, err := cmd.CombinedOutput()
	res, rerr := readResults(filepath.Join(out, "results.json"))
	if rerr != nil && err == nil {
		err = rerr
	}
	return res, failureSummary(string(log), 30), err
}

// vendorProfile writes the emulator's profile as its owner would for the existing lane (the
// classes are there already: create: false), then edit's changes.
func vendorProfile(t *testing.T, root string, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "drivers", "emulator", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(strings.ReplaceAll(string(data), "create: true", "create: false"), "lanes: [local, kind]", "lanes: [existing]", 1)
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

// counts says how many specs had each verdict.
func (r results) counts() string {
	n := map[string]int{}
	for _, s := range r.Specs {
		n[s.Verdict]++
	}
	return fmt.Sprintf("%d passed, %d failed, %d skipped", n["passed"], n["failed"], n["skipped"])
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
	state, err := listState(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func listState(ctx context.Context, c client.Client) (map[string]string, error) {
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
			return nil, fmt.Errorf("listing %ss: %w", l.kind, err)
		}
		items, err := meta.ExtractList(l.list)
		if err != nil {
			return nil, err
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
	return state, nil
}

// onRealKubelet is the profile's edit for a cluster with a real kubelet: a prepare timeout
// that fits it (the profile's prepareOnKind; the existing lane reads only prepare). It panics
// when the profile has no prepare line, so a reworded profile cannot leave the edit undone.
func onRealKubelet(doc string) string {
	prepare := regexp.MustCompile(`(?m)^  prepare: \S+$`)
	if !prepare.MatchString(doc) {
		panic("onRealKubelet: the profile has no '  prepare: <duration>' line")
	}
	return prepare.ReplaceAllString(doc, "  prepare: 60s")
}

func unchanged(doc string) string { return doc }

// expectAsFound waits (namespaces and PVs go asynchronously) until the cluster is as before;
// if it never is, it says what differs and why each leftover is still there.
func expectAsFound(ctx context.Context, t *testing.T, c client.Client, before map[string]string) {
	t.Helper()
	diff := []string{"never listed"}
	var lastErr error
	start := time.Now()
	_ = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		// A list cut short by the deadline keeps the last diff: the deadline is not the finding.
		state, err := listState(ctx, c)
		if err != nil {
			lastErr = err
			return false, nil
		}
		diff = stateDiff(before, state)
		return len(diff) == 0, nil
	})
	if len(diff) == 0 {
		t.Logf("the cluster was as the run found it after %v", time.Since(start).Round(time.Second))
		return
	}
	msg := fmt.Sprintf("the cluster is not as the run found it after %v:\n%s", time.Since(start).Round(time.Second), strings.Join(diff, "\n"))
	if lastErr != nil {
		msg += "\nlast list error: " + lastErr.Error()
	}
	t.Error(msg + "\n" + whyLeft(context.Background(), c, diff))
}

// whyLeft describes what holds each leftover namespace and PV: the namespace's conditions and
// the PVCs, pods and snapshots still in it, with their finalizers; the PV's phase and claim.
func whyLeft(ctx context.Context, c client.Client, diff []string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var b strings.Builder
	for _, d := range diff {
		kind, name, ok := strings.Cut(strings.TrimPrefix(d, "left: "), " ")
		if !ok || !strings.HasPrefix(d, "left: ") {
			continue
		}
		switch kind {
		case "Namespace":
			var ns corev1.Namespace
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
				fmt.Fprintf(&b, "namespace %s: %v\n", name, err)
				continue
			}
			fmt.Fprintf(&b, "namespace %s: phase %s, deletion %v\n", name, ns.Status.Phase, ns.DeletionTimestamp)
			for _, cond := range ns.Status.Conditions {
				if cond.Status == corev1.ConditionTrue {
					fmt.Fprintf(&b, "  %s: %s\n", cond.Type, cond.Message)
				}
			}
			for _, l := range []client.ObjectList{&corev1.PersistentVolumeClaimList{}, &corev1.PodList{}, &snapshotv1.VolumeSnapshotList{}} {
				if err := c.List(ctx, l, client.InNamespace(name)); err != nil {
					fmt.Fprintf(&b, "  %T: %v\n", l, err)
					continue
				}
				items, _ := meta.ExtractList(l)
				for _, it := range items {
					o := it.(client.Object)
					fmt.Fprintf(&b, "  %T %s: finalizers %v, deletion %v\n", o, o.GetName(), o.GetFinalizers(), o.GetDeletionTimestamp())
				}
			}
		case "PersistentVolume":
			var pv corev1.PersistentVolume
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &pv); err != nil {
				fmt.Fprintf(&b, "PV %s: %v\n", name, err)
				continue
			}
			claim := ""
			if pv.Spec.ClaimRef != nil {
				claim = pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
			}
			fmt.Fprintf(&b, "PV %s: phase %s (%s), class %s, claim %s, reclaim %s, finalizers %v, deletion %v\n",
				name, pv.Status.Phase, pv.Status.Message, pv.Spec.StorageClassName, claim, pv.Spec.PersistentVolumeReclaimPolicy, pv.Finalizers, pv.DeletionTimestamp)
		}
	}
	return b.String()
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

// failureSummary is what a reader of a failed run needs from make's output: its last n lines,
// then every Ginkgo failure block (from its [FAILED] line to the "In [It] at:" that ends it), last,
// because CI shows the end of a long output.
func failureSummary(s string, n int) string {
	lines := strings.Split(s, "\n")
	out := slices.Clone(lines[max(0, len(lines)-n):])
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "[FAILED] ") {
			continue
		}
		out = append(out, "---- failure ----")
		for start := i; i < len(lines); i++ {
			if i-start == 60 {
				out = append(out, "  (cut)")
				break
			}
			out = append(out, lines[i])
			if strings.Contains(lines[i], "In [") && strings.Contains(lines[i], "] at: ") {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func TestFailureSummaryEndsWithEveryFailure(t *testing.T) {
	out := strings.Join([]string{"• [FAILED] [1.0 seconds]", "backupPVC [It] a", "  [FAILED] waiting 1m for x", "  detail",
		"  In [It] at: /f.go:1 @ 12/02/26", "noise", "  [FAILED] second", "  In [It] at: /f.go:2 @ 12/02/26", "last line"}, "\n")
	got := failureSummary(out, 1)
	want := strings.Join([]string{"last line", "---- failure ----", "  [FAILED] waiting 1m for x", "  detail",
		"  In [It] at: /f.go:1 @ 12/02/26", "---- failure ----", "  [FAILED] second", "  In [It] at: /f.go:2 @ 12/02/26"}, "\n")
	if got != want {
		t.Errorf("failureSummary:\n%s\nwant:\n%s", got, want)
	}
}
