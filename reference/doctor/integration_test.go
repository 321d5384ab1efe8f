package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

// The test's node-agent configuration: five entries, each on an alias of the emulator's source
// class (Velero looks entries up by the source PVC's class).
var itEntries = map[string]map[string]any{
	"doc-good":     {"storageClass": "emu-backup", "readOnly": true},            // fine
	"doc-missing":  {"storageClass": "no-such-class", "readOnly": true},         // found statically
	"doc-norox":    {"storageClass": "emu-no-rox", "readOnly": true},            // the driver refuses ReadOnlyMany from a snapshot
	"doc-other":    {"storageClass": "emu-other-driver"},                        // another driver's class
	"doc-writable": {"storageClass": "emu-slow-clone", "spcNoRelabeling": true}, // fine, a writable clone; a lint warning
}

// TestIntegrationDoctorOnTheLocalLane runs the doctor against a real control plane, snapshot
// controller, CSI sidecars and the storage emulator, configured as Velero's node-agent would be,
// statically and with --probe, and checks every verdict, the exit code, that nothing the doctor
// created is left and that nothing the test created was touched; then a probe interrupted
// mid-way, a user without the permissions, and a namespace without Velero.
func TestIntegrationDoctorOnTheLocalLane(t *testing.T) {
	toolchain.RequireIntegration(t, [2]string{"kwok", "kwokctl"}, [2]string{"kubernetes", "kube-apiserver"},
		[2]string{"csi-provisioner", "csi-provisioner"}, [2]string{"csi-snapshotter", "snapshot-controller"})
	root := toolchain.RepoRoot()
	profilePath := filepath.Join(root, "drivers", "emulator", "profile.yaml")
	p, err := profile.Load(profilePath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	l, err := local.Up(ctx, local.Options{Name: fmt.Sprintf("it-doctor-%d", os.Getpid()), Profile: p, ArtifactsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	t.Logf("local lane up in %v", time.Since(start).Round(time.Millisecond))
	c, err := client.New(l.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}

	// What a Velero installation gives the node-agent, and a workload of the good entry's class.
	source, _ := p.Class(profile.RoleSource)
	mine := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "velero"}}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}}
	for alias := range itEntries {
		mine = append(mine, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: alias}, Provisioner: source.Provisioner, Parameters: source.Parameters,
			ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)})
	}
	doc, _ := json.Marshal(map[string]any{"backupPVC": itEntries})
	labels := map[string]string{"name": "node-agent"}
	mine = append(mine,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "node-agent-config"}, Data: map[string]string{"node-agent-config.json": string(doc)}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "node-agent"}, Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "node-agent", Image: "velero/velero:v1.18.3", Command: []string{"/velero"},
				// Both forms Velero's flag parser takes.
				Args: []string{"node-agent", "server", "--features=EnableCSI", "--node-agent-configmap", "node-agent-config", "--data-mover-prepare-timeout=45m"}}}}}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To("doc-good"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}})
	for _, o := range mine {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pvc := &corev1.PersistentVolumeClaim{}
		return c.Get(ctx, client.ObjectKey{Namespace: "app", Name: "data"}, pvc) == nil && pvc.Status.Phase == corev1.ClaimBound, nil
	}); err != nil {
		t.Fatal("the workload's PVC did not bind")
	}
	before := clusterState(ctx, t, c)
	cfgFor := func() (*rest.Config, error) { return l.RESTConfig(), nil }
	// doctor runs backuppvc doctor in-process with -o json; it logs the progress lines and the
	// report as the table (unless quiet) and returns the report, the progress, the exit code and
	// the JSON.
	doctor := func(t *testing.T, quiet bool, args ...string) (*Report, string, int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(ctx, append(args, "-o", "json"), &out, &errOut, cfgFor)
		r := &Report{}
		if err := json.Unmarshal(out.Bytes(), r); err != nil {
			t.Fatalf("exit %d, stdout not a report (%v):\n%s\nstderr:\n%s", code, err, out.String(), errOut.String())
		}
		var text bytes.Buffer
		_ = WriteText(&text, r)
		if !quiet {
			t.Logf("backuppvc doctor %s: exit %d\n%s%s", strings.Join(args, " "), code, errOut.String(), text.String())
		}
		return r, errOut.String(), code, out.String()
	}
	byEntry := func(r *Report) map[string]Entry {
		out := map[string]Entry{}
		for _, e := range r.Entries {
			out[e.SourceClass] = e
		}
		return out
	}
	check := func(t *testing.T, es map[string]Entry, name string, v Verdict, failing string) {
		t.Helper()
		e := es[name]
		if e.Verdict != v {
			t.Errorf("%s: verdict %s, want %s (%s)", name, e.Verdict, v, e.Summary)
		}
		if failing != "" && !hasStatus(&e, failing, StatusFail) {
			t.Errorf("%s: check %s did not fail: %+v", name, failing, e.Checks)
		}
		if v == VerdictStalls && !strings.Contains(e.Summary, "would wait 45m0s in Accepted and end PartiallyFailed") {
			t.Errorf("%s: summary %q does not say it in Velero's terms with the DaemonSet's prepare timeout", name, e.Summary)
		}
	}

	t.Run("static", func(t *testing.T) {
		var took []time.Duration
		var r *Report
		for i := range 3 {
			var code int
			r, _, code, _ = doctor(t, i > 0, "--profile", profilePath)
			if code != ExitStall || r.ExitCode != ExitStall {
				t.Errorf("exit %d (report %d), want 1", code, r.ExitCode)
			}
			took = append(took, r.Took.Duration)
		}
		t.Logf("static checks took %v", took)
		if d := r.Discovery; d.ConfigMap != "node-agent-config" || d.ConfigMapFrom != FromDaemonSet || d.PrepareTimeout.Duration != 45*time.Minute || d.PrepareTimeoutFrom != FromDaemonSet {
			t.Errorf("discovery %+v", d)
		}
		es := byEntry(r)
		check(t, es, "doc-good", VerdictFine, "")
		check(t, es, "doc-writable", VerdictFine, "")
		check(t, es, "doc-missing", VerdictStalls, CheckBackupPVCClass)
		check(t, es, "doc-norox", VerdictStalls, CheckReadOnly)
		check(t, es, "doc-other", VerdictStalls, CheckProvisioner)
		if len(r.Lint) != 1 || !strings.Contains(r.Lint[0].Path, "doc-writable") {
			t.Errorf("lint %+v, want the spcNoRelabeling warning", r.Lint)
		}
		if want := []string{"doc-missing", "doc-norox", "doc-other", "doc-writable"}; strings.Join(r.UnusedEntries, " ") != strings.Join(want, " ") {
			t.Errorf("unused entries %v, want %v", r.UnusedEntries, want)
		}
		expectAsFound(ctx, t, c, before)
	})

	t.Run("probe", func(t *testing.T) {
		r, progress, code, raw := doctor(t, false, "--profile", profilePath, "--probe", "--timeout", "20s")
		t.Logf("as JSON:\n%s", raw)
		if code != ExitStall {
			t.Errorf("exit %d, want 1", code)
		}
		es := byEntry(r)
		check(t, es, "doc-good", VerdictFine, "")
		check(t, es, "doc-writable", VerdictFine, "")
		check(t, es, "doc-missing", VerdictStalls, CheckBackupPVCClass)
		check(t, es, "doc-norox", VerdictStalls, CheckProbe)
		check(t, es, "doc-other", VerdictStalls, CheckProbe)
		for name, outcome := range map[string]string{"doc-good": OutcomeBound, "doc-writable": OutcomeBound, "doc-missing": OutcomeSkipped,
			"doc-norox": OutcomeRefused, "doc-other": OutcomeRefused} {
			if pr := es[name].Probe; pr == nil || pr.Outcome != outcome {
				t.Errorf("%s: probe %+v, want %s", name, pr, outcome)
			}
		}
		// The provisioner's own words, from the backupPVC's events.
		if pr := es["doc-norox"].Probe; pr == nil || !strings.Contains(pr.Refusal, "cannot create read-only volumes from snapshots") {
			t.Errorf("doc-norox: refusal %+v lacks the emulator's words", pr)
		}
		if pr := es["doc-other"].Probe; pr == nil || !strings.Contains(pr.Refusal, "ProvisioningFailed") {
			t.Errorf("doc-other: refusal %+v", pr)
		}
		for _, want := range []string{"doc-good: source PVC bound in", "doc-good: VolumeSnapshot ready in", "doc-good: backupPVC (ReadOnlyMany, class emu-backup) bound in",
			"removed everything the probe created"} {
			if !strings.Contains(progress, want) {
				t.Errorf("progress lacks %q", want)
			}
		}
		pr := r.ProbeRun
		if pr == nil || len(pr.Left) != 0 || len(pr.Namespaces) != 4 || pr.Interrupted {
			t.Fatalf("probe run %+v", pr)
		}
		t.Logf("probe of %d entries took %v, its cleanup %v; the whole run %v", len(pr.Namespaces), pr.Took.Duration, pr.CleanupTook.Duration, r.Took.Duration)
		expectNothingOf(ctx, t, c, pr.Run)
		expectAsFound(ctx, t, c, before)
	})

	t.Run("Ctrl-C mid-probe leaves nothing", func(t *testing.T) {
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var once sync.Once
		o := Options{Probe: true, ProbeEntries: []string{"doc-good", "doc-norox"}, ProbeTimeout: 20 * time.Second, Run: fmt.Sprintf("int%d", os.Getpid()%1000),
			Progress: ProgressFunc(func(f string, a ...any) {
				line := fmt.Sprintf(f, a...)
				t.Log(line)
				if strings.Contains(line, "source PVC bound") {
					once.Do(cancel) // as signal.NotifyContext does on Ctrl-C
				}
			})}
		r := Run(pctx, c, o)
		if r.ProbeRun == nil || !r.ProbeRun.Interrupted || len(r.ProbeRun.Left) != 0 {
			t.Fatalf("probe run %+v", r.ProbeRun)
		}
		interrupted := 0
		for _, e := range r.Entries {
			if e.Probe != nil && e.Probe.Outcome == OutcomeInterrupted {
				interrupted++
			}
		}
		if interrupted == 0 || r.ExitCode == ExitFine {
			t.Errorf("%d probes interrupted, exit %d", interrupted, r.ExitCode)
		}
		expectNothingOf(ctx, t, c, o.Run)
		expectAsFound(ctx, t, c, before)
	})

	t.Run("a user who may not create PVCs: refused, nothing created", func(t *testing.T) {
		user := "doctor-reader"
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"create", "delete"}}}}
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
		for _, o := range []client.Object{role, binding} {
			if err := c.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete(context.Background(), o) })
		}
		cfg := rest.CopyConfig(l.RESTConfig())
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		var out, errOut bytes.Buffer
		var code int
		// RBAC takes a moment to see the new binding.
		_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			out.Reset()
			errOut.Reset()
			code = run(ctx, []string{"--probe", "-o", "json"}, &out, &errOut, func() (*rest.Config, error) { return cfg, nil })
			return strings.Contains(out.String(), "probe refused"), nil
		})
		r := &Report{}
		if err := json.Unmarshal(out.Bytes(), r); err != nil {
			t.Fatalf("%v:\n%s\n%s", err, out.String(), errOut.String())
		}
		want := "probe refused, nothing created: the kubeconfig's user may not create persistentvolumeclaims, delete persistentvolumeclaims, patch persistentvolumes, " +
			"create volumesnapshots.snapshot.storage.k8s.io, update volumesnapshots.snapshot.storage.k8s.io, delete volumesnapshots.snapshot.storage.k8s.io, " +
			"patch volumesnapshotcontents.snapshot.storage.k8s.io, delete volumesnapshotcontents.snapshot.storage.k8s.io"
		t.Logf("exit %d, problems %q", code, r.Problems)
		if len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0], want) || r.ProbeRun != nil || code != ExitStall {
			t.Errorf("exit %d, problems %q, want %q", code, r.Problems, want)
		}
		nss := &corev1.NamespaceList{}
		if err := c.List(ctx, nss, client.MatchingLabels{LabelManagedBy: ManagedByDoctor}); err != nil || len(nss.Items) != 0 {
			t.Errorf("namespaces of the doctor: %d (%v)", len(nss.Items), err)
		}
	})

	t.Run("a namespace without Velero", func(t *testing.T) {
		r, _, code, _ := doctor(t, false, "-n", "app")
		if code != ExitUnchecked || len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0], "no DaemonSet node-agent in namespace app") {
			t.Errorf("exit %d, problems %q", code, r.Problems)
		}
	})
}

// expectNothingOf fails when anything labelled with the run, or bound to its namespaces, is left.
func expectNothingOf(ctx context.Context, t *testing.T, c client.Client, run string) {
	t.Helper()
	sel := client.MatchingLabels{LabelRun: run}
	prefix := "backuppvc-doctor-" + run + "-"
	for _, l := range []client.ObjectList{&corev1.NamespaceList{}, &corev1.PersistentVolumeClaimList{}, &snapshotv1.VolumeSnapshotList{},
		&corev1.PersistentVolumeList{}, &snapshotv1.VolumeSnapshotContentList{}} {
		if err := c.List(ctx, l, sel); err != nil {
			t.Fatal(err)
		}
		if items := mustItems(t, l); len(items) > 0 {
			t.Errorf("%T: %d objects labelled %s=%s left", l, len(items), LabelRun, run)
		}
	}
	nss := &corev1.NamespaceList{}
	pvs := &corev1.PersistentVolumeList{}
	vscs := &snapshotv1.VolumeSnapshotContentList{}
	for _, l := range []client.ObjectList{nss, pvs, vscs} {
		if err := c.List(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nss.Items {
		if strings.HasPrefix(n.Name, prefix) {
			t.Errorf("namespace %s left (%s)", n.Name, n.Status.Phase)
		}
	}
	for _, pv := range pvs.Items {
		if pv.Spec.ClaimRef != nil && strings.HasPrefix(pv.Spec.ClaimRef.Namespace, prefix) {
			t.Errorf("PersistentVolume %s of %s/%s left", pv.Name, pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name)
		}
	}
	for _, vsc := range vscs.Items {
		if strings.HasPrefix(vsc.Spec.VolumeSnapshotRef.Namespace, prefix) {
			t.Errorf("VolumeSnapshotContent %s of %s/%s left", vsc.Name, vsc.Spec.VolumeSnapshotRef.Namespace, vsc.Spec.VolumeSnapshotRef.Name)
		}
	}
}

// clusterState records what the doctor must not touch, by UID and resourceVersion: every
// namespace, storage class, snapshot class, ConfigMap and PVC and PV there is (the DaemonSet by
// its generation: kube-controller-manager updates its status as kwok runs its pods).
func clusterState(ctx context.Context, t *testing.T, c client.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	lists := []client.ObjectList{&corev1.NamespaceList{}, &storagev1.StorageClassList{}, &snapshotv1.VolumeSnapshotClassList{}, &corev1.ConfigMapList{},
		&corev1.PersistentVolumeClaimList{}, &corev1.PersistentVolumeList{}, &storagev1.CSIDriverList{}}
	for _, l := range lists {
		if err := c.List(ctx, l); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(l)
		var v struct {
			Items []metav1.PartialObjectMetadata `json:"items"`
		}
		_ = json.Unmarshal(data, &v)
		for _, o := range v.Items {
			if o.Labels[LabelManagedBy] == ManagedByDoctor {
				continue
			}
			out[fmt.Sprintf("%T %s/%s", l, o.Namespace, o.Name)] = string(o.UID) + "@" + o.ResourceVersion
		}
	}
	ds := &appsv1.DaemonSet{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "node-agent"}, ds); err != nil {
		t.Fatal(err)
	}
	out["DaemonSet velero/node-agent"] = fmt.Sprintf("%s@generation %d", ds.UID, ds.Generation)
	return out
}

func expectAsFound(ctx context.Context, t *testing.T, c client.Client, before map[string]string) {
	t.Helper()
	after := clusterState(ctx, t, c)
	for k, v := range before {
		if strings.HasPrefix(k, "*v1.ConfigMapList kube-") || strings.Contains(k, "kube-root-ca.crt") {
			continue // the control plane's own (leader election, the root CA of new namespaces)
		}
		if after[k] != v {
			t.Errorf("%s changed: %s, now %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && !strings.Contains(k, "kube-root-ca.crt") {
			t.Errorf("%s appeared", k)
		}
	}
}
