package doctor

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

const stall30m = "a backup of a PVC of class src would wait 30m0s in Accepted and end PartiallyFailed (DataUpload Failed: timeout on preparing data upload): "

// Each static check, failing and passing: one entry src -> ..., the whole entry compared.
func TestStaticChecks(t *testing.T) {
	ok := func(name, msg string) Check { return Check{name, StatusOK, msg} }
	srcOK := ok(CheckSourceClass, "storage class src exists (provisioner a.csi.example.com)")
	backupOK := ok(CheckBackupPVCClass, "storage class backup exists (provisioner a.csi.example.com)")
	sameA := ok(CheckProvisioner, "both classes are provisioned by a.csi.example.com")
	snapOK := ok(CheckSnapshotClass, "snap-a (label velero.io/csi-volumesnapshot-class)")
	noSnap := func(which string) Check {
		return Check{CheckSnapshotClass, StatusFail, "error getting VolumeSnapshotClass: failed to get VolumeSnapshotClass for provisioner a.csi.example.com: " +
			"ensure that the desired VolumeSnapshotClass has the velero.io/csi-volumesnapshot-class label or snapshot.storage.kubernetes.io/is-default-class annotation, " +
			"and that its driver matches the StorageClass provisioner (" + which + ")"}
	}
	entry := func(target string, mode corev1.PersistentVolumeAccessMode, snap string, v Verdict, summary string, checks ...Check) Entry {
		return Entry{SourceClass: "src", BackupPVCClass: target, AccessMode: mode, ReadOnly: mode == corev1.ReadOnlyMany, Driver: driverA,
			SnapshotClass: snap, Checks: checks, Verdict: v, Summary: summary}
	}
	noProfileCaps := testProfile()
	noProfileCaps.Capabilities.ReadOnlyManyFromSnapshot = false
	tests := []struct {
		name    string
		entry   map[string]any
		objs    []client.Object // instead of snap-a
		profile *profile.Profile
		want    Entry
	}{
		{name: "all pass, read-only per the profile", entry: map[string]any{"storageClass": "backup", "readOnly": true}, profile: testProfile(),
			want: entry("backup", corev1.ReadOnlyMany, "snap-a", VerdictFine, "the backupPVC would be a ReadOnlyMany PVC of class backup",
				srcOK, backupOK, sameA, snapOK, ok(CheckReadOnly, "profile vendor: class backup (role backup) makes ReadOnlyMany volumes from snapshots"))},
		{name: "no storageClass: the source class, ReadWriteOnce", entry: map[string]any{"annotations": map[string]string{"a": "b"}},
			want: entry("src", corev1.ReadWriteOnce, "snap-a", VerdictFine, "the backupPVC would be a ReadWriteOnce PVC of class src",
				srcOK, ok(CheckBackupPVCClass, "the source class (the entry names no storageClass)"), sameA, snapOK)},
		{name: "backupPVC class missing", entry: map[string]any{"storageClass": "gone"},
			want: entry("gone", corev1.ReadWriteOnce, "snap-a", VerdictStalls, stall30m+`no storage class gone: the backupPVC would stay Pending (storageclass.storage.k8s.io "gone" not found)`,
				srcOK, Check{CheckBackupPVCClass, StatusFail, `no storage class gone: the backupPVC would stay Pending (storageclass.storage.k8s.io "gone" not found)`},
				Check{CheckProvisioner, StatusSkipped, "needs both classes"}, snapOK)},
		{name: "class of another driver", entry: map[string]any{"storageClass": "other"},
			want: entry("other", corev1.ReadWriteOnce, "snap-a", VerdictStalls, stall30m+"the backupPVC's class is provisioned by b.csi.example.com, the source class by a.csi.example.com: a snapshot of one CSI driver's volume cannot be restored by another's",
				srcOK, ok(CheckBackupPVCClass, "storage class other exists (provisioner b.csi.example.com)"),
				Check{CheckProvisioner, StatusFail, "the backupPVC's class is provisioned by b.csi.example.com, the source class by a.csi.example.com: a snapshot of one CSI driver's volume cannot be restored by another's"}, snapOK,
			)},
		{name: "read-only on a class the profile says refuses", entry: map[string]any{"storageClass": "norox", "readOnly": true}, profile: testProfile(),
			want: entry("norox", corev1.ReadOnlyMany, "snap-a", VerdictStalls, stall30m+"profile vendor: class norox (role refusesReadOnly) cannot make ReadOnlyMany volumes from snapshots",
				srcOK, ok(CheckBackupPVCClass, "storage class norox exists (provisioner a.csi.example.com)"), sameA, snapOK,
				Check{CheckReadOnly, StatusFail, "profile vendor: class norox (role refusesReadOnly) cannot make ReadOnlyMany volumes from snapshots"})},
		{name: "read-only on a driver the profile says cannot", entry: map[string]any{"storageClass": "backup", "readOnly": true}, profile: noProfileCaps,
			want: entry("backup", corev1.ReadOnlyMany, "snap-a", VerdictStalls, stall30m+"profile vendor: driver a.csi.example.com cannot make ReadOnlyMany volumes from snapshots (capabilities.readOnlyManyFromSnapshot: false)",
				srcOK, backupOK, sameA, snapOK,
				Check{CheckReadOnly, StatusFail, "profile vendor: driver a.csi.example.com cannot make ReadOnlyMany volumes from snapshots (capabilities.readOnlyManyFromSnapshot: false)"})},
		{name: "read-only on a class the profile has no role for", entry: map[string]any{"readOnly": true}, profile: testProfile(),
			want: entry("src", corev1.ReadOnlyMany, "snap-a", VerdictFine, "the backupPVC would be a ReadOnlyMany PVC of class src",
				srcOK, ok(CheckBackupPVCClass, "the source class (the entry names no storageClass)"), sameA, snapOK,
				Check{CheckReadOnly, StatusSkipped, "profile vendor says nothing about ReadOnlyMany from snapshots in class src (only its backup and refusesReadOnly classes)"})},
		{name: "snapshot class by the default-class annotation", entry: map[string]any{"storageClass": "backup"},
			objs: []client.Object{snapClass("plain", driverA, nil, nil), snapClass("default", driverA, nil, map[string]string{DefaultSnapshotClassAnnotation: "true"})},
			want: entry("backup", corev1.ReadWriteOnce, "default", VerdictFine, "the backupPVC would be a ReadWriteOnce PVC of class backup",
				srcOK, backupOK, sameA, ok(CheckSnapshotClass, "default (annotation snapshot.storage.kubernetes.io/is-default-class)"))},
		{name: "snapshot class: the driver's only one, unmarked", entry: map[string]any{"storageClass": "backup"},
			objs: []client.Object{snapClass("plain", driverA, nil, nil), snapClass("b", driverB, veleroLabel, nil)},
			want: entry("backup", corev1.ReadWriteOnce, "plain", VerdictFine, "the backupPVC would be a ReadWriteOnce PVC of class backup",
				srcOK, backupOK, sameA, ok(CheckSnapshotClass, "plain (the driver's only VolumeSnapshotClass)"))},
		{name: "snapshot classes, none marked", entry: map[string]any{"storageClass": "backup"},
			objs: []client.Object{snapClass("one", driverA, nil, nil), snapClass("two", driverA, nil, nil)},
			want: entry("backup", corev1.ReadWriteOnce, "", VerdictFails,
				"a backup of a PVC of class src would end PartiallyFailed without a DataUpload for it: Velero finds no VolumeSnapshotClass for driver a.csi.example.com",
				srcOK, backupOK, sameA, noSnap("it has one, two and none is marked"))},
		{name: "no snapshot class for the driver", entry: map[string]any{"storageClass": "backup"},
			objs: []client.Object{snapClass("b", driverB, veleroLabel, nil)},
			want: entry("backup", corev1.ReadWriteOnce, "", VerdictFails,
				"a backup of a PVC of class src would end PartiallyFailed without a DataUpload for it: Velero finds no VolumeSnapshotClass for driver a.csi.example.com",
				srcOK, backupOK, sameA, noSnap("there is none"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []client.Object{ns("velero"), class("src", driverA), class("backup", driverA), class("norox", driverA), class("other", driverB),
				nodeAgent(nil, "node-agent", "server", "--node-agent-configmap=cm"), backupPVCConfig("cm", map[string]any{"src": tt.entry})}
			if tt.objs == nil {
				objs = append(objs, snapClass("snap-a", driverA, veleroLabel, nil))
			}
			r := Run(context.Background(), fakeClient(t, nil, append(objs, tt.objs...)...), Options{Profile: tt.profile})
			if len(r.Entries) != 1 {
				t.Fatalf("entries %+v, problems %v", r.Entries, r.Problems)
			}
			if diff := cmp.Diff(tt.want, r.Entries[0], ignoreTook); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
			wantExit := map[Verdict]int{VerdictFine: ExitFine, VerdictStalls: ExitStall, VerdictFails: ExitStall}[tt.want.Verdict]
			if r.ExitCode != wantExit {
				t.Errorf("exit %d, want %d", r.ExitCode, wantExit)
			}
		})
	}
}

func TestSourceClassMissingNeverApplies(t *testing.T) {
	c := fakeClient(t, nil, append(baseObjects(), nodeAgent(nil, "server", "--node-agent-configmap=cm"),
		backupPVCConfig("cm", map[string]any{"gold": map[string]any{"storageClass": "backup"}}))...)
	r := Run(context.Background(), c, Options{})
	want := []Entry{{SourceClass: "gold", BackupPVCClass: "backup", AccessMode: corev1.ReadWriteOnce, Checks: []Check{
		{CheckSourceClass, StatusWarning, "no storage class gold: the entry applies to no PVC (Velero looks entries up by the source PVC's class name, exact match)"},
		{CheckBackupPVCClass, StatusOK, "storage class backup exists (provisioner a.csi.example.com)"},
		{CheckProvisioner, StatusSkipped, "needs both classes"},
		{CheckSnapshotClass, StatusSkipped, "needs the source class"},
	}, Verdict: VerdictNeverApplies, Summary: "no storage class gold exists, so no PVC's class matches the entry"}}
	if diff := cmp.Diff(want, r.Entries, ignoreTook); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if r.ExitCode != ExitFine {
		t.Errorf("exit %d: an entry that never applies stalls nothing", r.ExitCode)
	}
}

func TestSnapshotAPINotServed(t *testing.T) {
	objs := append(baseObjects(), nodeAgent(nil, "server", "--node-agent-configmap=cm"), backupPVCConfig("cm", map[string]any{"src": map[string]any{"storageClass": "backup"}}))
	c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*snapshotv1.VolumeSnapshotClassList); ok {
				return &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "snapshot.storage.k8s.io", Kind: "VolumeSnapshotClass"}, SearchedVersions: []string{"v1"}}
			}
			return c.List(ctx, list, opts...)
		}}).Build()
	r := Run(context.Background(), c, Options{})
	want := Check{CheckSnapshotClass, StatusFail, "the cluster does not serve snapshot.storage.k8s.io/v1 VolumeSnapshotClasses: Velero cannot snapshot the volume (install the external-snapshotter CRDs and snapshot-controller)"}
	if len(r.Entries) != 1 || r.Entries[0].Checks[3] != want || r.Entries[0].Verdict != VerdictFails || r.ExitCode != ExitStall {
		t.Errorf("entries %+v exit %d", r.Entries, r.ExitCode)
	}
}

func TestInformational(t *testing.T) {
	backupNS := pvcOf("velero", "du-1", "unlisted") // a backupPVC of Velero's own: not a workload
	c := fakeClient(t, nil, append(baseObjects(), nodeAgent(nil, "server", "--node-agent-configmap=cm"),
		backupPVCConfig("cm", map[string]any{"src": map[string]any{"storageClass": "backup"}, "backup": map[string]any{"readOnly": true}}),
		ns("app"), pvcOf("app", "data", "src"), pvcOf("app", "logs", "unlisted"), pvcOf("app", "cache", "unlisted"), pvcOf("app", "static", ""), backupNS)...)
	r := Run(context.Background(), c, Options{})
	if diff := cmp.Diff([]string{"backup"}, r.UnusedEntries); diff != "" {
		t.Errorf("unused entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ClassUse{{Class: "unlisted", PVCs: 2}}, r.ClassesWithoutEntry); diff != "" {
		t.Errorf("classes without entry (-want +got):\n%s", diff)
	}
	if r.ExitCode != ExitFine {
		t.Errorf("informational findings changed the exit code to %d", r.ExitCode)
	}
}
