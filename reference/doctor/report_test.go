package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func probeConfig() []client.Object {
	return append(baseObjects(), nodeAgent(nil, "server", "--node-agent-configmap=cm", "--data-mover-prepare-timeout=15s"),
		backupPVCConfig("cm", map[string]any{"src": map[string]any{"storageClass": "backup", "readOnly": true}, "gone": map[string]any{"storageClass": "backup"},
			"backup": map[string]any{"storageClass": "missing"}}))
}

func TestProbeRefusesWithoutPermissions(t *testing.T) {
	c := fakeClient(t, []string{"create persistentvolumeclaims", "delete volumesnapshots.snapshot.storage.k8s.io"}, probeConfig()...)
	r := Run(context.Background(), c, Options{Probe: true, Run: "test01"})
	want := []string{"probe refused, nothing created: the kubeconfig's user may not create persistentvolumeclaims, delete volumesnapshots.snapshot.storage.k8s.io " +
		"(the probe creates a namespace per entry with a PVC, a VolumeSnapshot and a PVC from it, and removes them again)"}
	if diff := cmp.Diff(want, r.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	nss := &corev1.NamespaceList{}
	if err := c.List(context.Background(), nss); err != nil || len(nss.Items) != 1 {
		t.Errorf("namespaces %v (%v): the refused probe created something", nss.Items, err)
	}
	if r.ExitCode != ExitStall { // the entry "backup" -> missing stalls, statically
		t.Errorf("exit %d", r.ExitCode)
	}
}

func TestProbeNamesNoEntry(t *testing.T) {
	r := Run(context.Background(), fakeClient(t, nil, probeConfig()...), Options{Probe: true, ProbeEntries: []string{"src", "nope"}})
	want := []string{"--probe names nope, which is no backupPVC entry (entries: backup, gone, src): nothing probed"}
	if diff := cmp.Diff(want, r.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	for _, e := range r.Entries {
		if e.Probe != nil {
			t.Errorf("entry %s probed", e.SourceClass)
		}
	}
}

// On a fake API server nothing binds: the probe of src gives up on its source PVC, the others
// are skipped with their reason, and the cleanup leaves nothing of the run.
func TestProbeOnAClusterThatProvisionsNothing(t *testing.T) {
	c := fakeClient(t, nil, probeConfig()...)
	var lines []string
	r := Run(context.Background(), c, Options{Probe: true, Run: "test02", ProbeTimeout: 300 * time.Millisecond, Poll: 20 * time.Millisecond,
		Progress: ProgressFunc(func(f string, a ...any) { lines = append(lines, f) })})
	got := map[string]string{}
	for _, e := range r.Entries {
		got[e.SourceClass] = string(e.Verdict) + " / " + e.Probe.Outcome + ": " + e.Probe.Message
	}
	want := map[string]string{
		"backup": "stalls / skipped: not probed: no storage class missing: the static check already says what happens",
		"gone":   "neverApplies / skipped: not probed: no storage class gone to make the source PVC in",
		"src": "unknown / sourceNotBound: a 1Gi PVC of the source class src did not bind within 300ms (not bound); no warning event says why: " +
			"the probe cannot go on",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	if r.ProbeRun == nil || len(r.ProbeRun.Left) != 0 || r.ProbeRun.Selector != "doctor.backuppvc.io/run=test02" ||
		!cmp.Equal(r.ProbeRun.Namespaces, []string{"backuppvc-doctor-test02-2"}) {
		t.Errorf("probe run %+v", r.ProbeRun)
	}
	ctx := context.Background()
	for _, l := range []client.ObjectList{&corev1.NamespaceList{}, &corev1.PersistentVolumeClaimList{}, &snapshotv1.VolumeSnapshotList{}} {
		if err := c.List(ctx, l, client.MatchingLabels{LabelRun: "test02"}); err != nil {
			t.Fatal(err)
		}
		if n := len(mustItems(t, l)); n != 0 {
			t.Errorf("%T: %d objects of the run left", l, n)
		}
	}
	if r.ExitCode != ExitStall {
		t.Errorf("exit %d", r.ExitCode)
	}
}

func mustItems(t *testing.T, l client.ObjectList) []any {
	data, _ := json.Marshal(l)
	var v struct{ Items []any }
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v.Items
}

// A namespace of the probe's name that exists already is not the probe's: it is not used, not
// deleted.
func TestProbeLeavesAForeignNamespaceAlone(t *testing.T) {
	foreign := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backuppvc-doctor-test03-2", Labels: map[string]string{"owner": "someone"}}}
	c := fakeClient(t, nil, append(probeConfig(), foreign)...)
	r := Run(context.Background(), c, Options{Probe: true, Run: "test03", ProbeTimeout: 100 * time.Millisecond, Poll: 20 * time.Millisecond})
	src := r.Entries[2]
	if src.Probe.Outcome != OutcomeError || !strings.Contains(src.Probe.Message, "cannot create namespace backuppvc-doctor-test03-2") {
		t.Errorf("probe %+v", src.Probe)
	}
	got := &corev1.Namespace{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(foreign), got); err != nil || got.Labels["owner"] != "someone" {
		t.Errorf("the foreign namespace was touched: %v %v", got.Labels, err)
	}
}

func TestExitCodes(t *testing.T) {
	e := func(v Verdict) Entry { return Entry{Verdict: v} }
	tests := []struct {
		name string
		r    Report
		want int
	}{
		{"nothing configured", Report{}, ExitFine},
		{"fine and never applies", Report{Entries: []Entry{e(VerdictFine), e(VerdictNeverApplies)}}, ExitFine},
		{"a stall", Report{Entries: []Entry{e(VerdictFine), e(VerdictStalls)}}, ExitStall},
		{"a failure", Report{Entries: []Entry{e(VerdictFails)}}, ExitStall},
		{"a stall beats what could not be checked", Report{Entries: []Entry{e(VerdictUnknown), e(VerdictStalls)}, Problems: []string{"x"}}, ExitStall},
		{"unknown entry", Report{Entries: []Entry{e(VerdictFine), e(VerdictUnknown)}}, ExitUnchecked},
		{"a problem", Report{Problems: []string{"no namespace"}}, ExitUnchecked},
		{"the probe left something", Report{Entries: []Entry{e(VerdictFine)}, ProbeRun: &ProbeRun{Left: []string{"namespace x"}}}, ExitUnchecked},
	}
	for _, tt := range tests {
		if got := tt.r.exitCode(); got != tt.want {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The JSON document's shape, whole: what machines read.
func TestJSONShape(t *testing.T) {
	objs := append(baseObjects(), nodeAgent(nil, "server", "--node-agent-configmap=cm"),
		backupPVCConfig("cm", map[string]any{"src": map[string]any{"storageClass": "other", "readonly": true}}), ns("app"), pvcOf("app", "data", "backup"))
	r := Run(context.Background(), fakeClient(t, nil, objs...), Options{})
	r.Took = metav1.Duration{}
	var out bytes.Buffer
	if err := WriteJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	want := `{
  "discovery": {
    "namespace": "velero",
    "daemonSet": "velero/node-agent",
    "container": "node-agent",
    "configMap": "cm",
    "configMapFrom": "daemonSet",
    "configMapFound": true,
    "prepareTimeout": "30m0s",
    "prepareTimeoutFrom": "default"
  },
  "lint": [
    {
      "path": "data[\"node-agent-config.json\"].backupPVC.src.readonly",
      "severity": "warning",
      "message": "key \"readonly\" matches field \"readOnly\" only case-insensitively: Velero accepts it, but write \"readOnly\""
    }
  ],
  "entries": [
    {
      "sourceClass": "src",
      "backupPVCClass": "other",
      "accessMode": "ReadOnlyMany",
      "readOnly": true,
      "driver": "a.csi.example.com",
      "snapshotClass": "snap-a",
      "checks": [
        {
          "name": "sourceClass",
          "status": "ok",
          "message": "storage class src exists (provisioner a.csi.example.com)"
        },
        {
          "name": "backupPVCClass",
          "status": "ok",
          "message": "storage class other exists (provisioner b.csi.example.com)"
        },
        {
          "name": "provisioner",
          "status": "fail",
          "message": "the backupPVC's class is provisioned by b.csi.example.com, the source class by a.csi.example.com: a snapshot of one CSI driver's volume cannot be restored by another's"
        },
        {
          "name": "snapshotClass",
          "status": "ok",
          "message": "snap-a (label velero.io/csi-volumesnapshot-class)"
        },
        {
          "name": "readOnly",
          "status": "skipped",
          "message": "no --profile: only --probe can tell whether other provisions ReadOnlyMany from a snapshot"
        }
      ],
      "verdict": "stalls",
      "summary": "a backup of a PVC of class src would wait 30m0s in Accepted and end PartiallyFailed (DataUpload Failed: timeout on preparing data upload): the backupPVC's class is provisioned by b.csi.example.com, the source class by a.csi.example.com: a snapshot of one CSI driver's volume cannot be restored by another's"
    }
  ],
  "unusedEntries": [
    "src"
  ],
  "classesWithoutEntry": [
    {
      "class": "backup",
      "pvcs": 1
    }
  ],
  "notes": [],
  "problems": [],
  "exitCode": 1,
  "took": "0s"
}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

func TestTextOutput(t *testing.T) {
	objs := append(baseObjects(), nodeAgent(nil, "server", "--node-agent-configmap=cm", "--data-mover-prepare-timeout", "45m"),
		backupPVCConfig("cm", map[string]any{"src": map[string]any{"storageClass": "other"}}))
	r := Run(context.Background(), fakeClient(t, nil, objs...), Options{})
	var out bytes.Buffer
	if err := WriteText(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"node-agent        DaemonSet velero/node-agent, container node-agent\n",
		"ConfigMap         cm (the DaemonSet's --node-agent-configmap)\n",
		"prepare timeout   45m0s (the DaemonSet's --data-mover-prepare-timeout)\n",
		"lint: no findings\n",
		"ENTRY (SOURCE CLASS)  BACKUPPVC CLASS  ACCESS MODE    VERDICT  PROBE\nsrc                   other            ReadWriteOnce  stalls   -\n",
		"src: stalls: a backup of a PVC of class src would wait 45m0s in Accepted and end PartiallyFailed",
		"  fail  provisioner     the backupPVC's class is provisioned by b.csi.example.com",
		"exit 1: an entry will stall or be refused\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
}

// A WaitForFirstConsumer class binds only for a node: with no pod to schedule, the probe names
// the node itself, as the scheduler would, preferring one whose CSINode lists the driver.
func TestProbePicksANodeForWaitForFirstConsumer(t *testing.T) {
	ready := func(name string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	}
	withDriver := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driverA, NodeID: "b"}}}}
	tests := []struct {
		name     string
		objs     []client.Object
		wantNode string
	}{
		{name: "the node whose CSINode lists the driver", objs: []client.Object{ready("node-a"), ready("node-b"), withDriver}, wantNode: "node-b"},
		{name: "no CSINode lists it: a Ready node", objs: []client.Object{&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-0"}}, ready("node-1")}, wantNode: "node-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := class("src", driverA)
			src.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
			objs := append([]client.Object{ns("velero"), src, class("backup", driverA), snapClass("snap-a", driverA, veleroLabel, nil),
				nodeAgent(nil, "server", "--node-agent-configmap=cm"), backupPVCConfig("cm", map[string]any{"src": map[string]any{"storageClass": "backup"}})}, tt.objs...)
			c := fakeClient(t, nil, objs...)
			var annotated string
			c = interceptor.NewClient(c, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
					annotated = pvc.Annotations[AnnotationSelectedNode]
				}
				return c.Create(ctx, obj, opts...)
			}})
			r := Run(context.Background(), c, Options{Probe: true, Run: "wffc", ProbeTimeout: 100 * time.Millisecond, Poll: 20 * time.Millisecond})
			if pr := r.Entries[0].Probe; pr == nil || pr.Node != tt.wantNode || annotated != tt.wantNode {
				t.Errorf("probe %+v, source PVC annotated %q, want node %s", pr, annotated, tt.wantNode)
			}
		})
	}
}

func TestProbeAsksForNodesOnlyForWaitForFirstConsumer(t *testing.T) {
	has := func(attrs []string, want string) bool { return strings.Contains(strings.Join(attrs, ","), want) }
	names := func(wffc bool) []string {
		var out []string
		for _, a := range probeAccess(wffc) {
			out = append(out, a.Verb+" "+a.Resource)
		}
		return out
	}
	if has(names(false), "csinodes") || !has(names(true), "list csinodes") || !has(names(true), "list nodes") {
		t.Errorf("access: %v / %v", names(false), names(true))
	}
}
