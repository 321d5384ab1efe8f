package doctor

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/config"
)

var ignoreTook = cmp.Options{cmpopts.IgnoreFields(Report{}, "Took"), cmpopts.IgnoreUnexported(Entry{}), cmpopts.EquateEmpty()}

// goodEntry is the expected result of the entry src -> backup, readOnly, on baseObjects.
func goodEntry() Entry {
	return Entry{SourceClass: "src", BackupPVCClass: "backup", AccessMode: corev1.ReadOnlyMany, ReadOnly: true, Driver: driverA, SnapshotClass: "snap-a",
		Checks: []Check{
			{CheckSourceClass, StatusOK, "storage class src exists (provisioner a.csi.example.com)"},
			{CheckBackupPVCClass, StatusOK, "storage class backup exists (provisioner a.csi.example.com)"},
			{CheckProvisioner, StatusOK, "both classes are provisioned by a.csi.example.com"},
			{CheckSnapshotClass, StatusOK, "snap-a (label velero.io/csi-volumesnapshot-class)"},
			{CheckReadOnly, StatusSkipped, "no --profile: only --probe can tell whether backup provisions ReadOnlyMany from a snapshot"},
		},
		Verdict: VerdictFine, Summary: "the backupPVC would be a ReadOnlyMany PVC of class backup"}
}

func TestDiscovery(t *testing.T) {
	good := backupPVCConfig("node-agent-config", map[string]any{"src": map[string]any{"storageClass": "backup", "readOnly": true}})
	velero := func(configMap, from, timeout, timeoutFrom string) Discovery {
		d := Discovery{Namespace: "velero", DaemonSet: "velero/node-agent", Container: "node-agent", ConfigMap: configMap, ConfigMapFrom: from,
			ConfigMapFound: configMap != "", PrepareTimeoutFrom: timeoutFrom}
		d.PrepareTimeout.Duration, _ = time.ParseDuration(timeout)
		return d
	}
	withPVCs := func(r Report) Report {
		r.UnusedEntries, r.ClassesWithoutEntry = []string{"src"}, []ClassUse{}
		return r
	}
	tests := []struct {
		name string
		objs []client.Object
		opts Options
		want Report
	}{
		{name: "flags as --flag=value, in args",
			objs: []client.Object{nodeAgent([]string{"/velero"}, "node-agent", "server", "--node-agent-configmap=node-agent-config", "--data-mover-prepare-timeout=45m"), good},
			want: withPVCs(Report{Discovery: velero("node-agent-config", FromDaemonSet, "45m", FromDaemonSet), Entries: []Entry{goodEntry()}})},
		{name: "flags as --flag value, in the command, the last one winning as in pflag",
			objs: []client.Object{nodeAgent([]string{"/velero", "node-agent", "server", "--data-mover-prepare-timeout", "1m", "--node-agent-configmap", "node-agent-config",
				"--data-mover-prepare-timeout", "10m"}), good},
			want: withPVCs(Report{Discovery: velero("node-agent-config", FromDaemonSet, "10m", FromDaemonSet), Entries: []Entry{goodEntry()}})},
		{name: "no --node-agent-configmap: Velero's defaults for every class",
			objs: []client.Object{nodeAgent([]string{"/velero"}, "node-agent", "server")},
			want: (Report{Discovery: velero("", FromNone, "30m", FromDefault),
				Notes: []string{"the node-agent is given no --node-agent-configmap: it has no backupPVC configuration, so every backupPVC uses its source PVC's storage class and ReadWriteOnce (Velero's defaults, for every class)"}})},
		{name: "ConfigMap missing: the node-agent exits, in Velero's words",
			objs: []client.Object{nodeAgent(nil, "node-agent", "server", "--node-agent-configmap=gone")},
			want: Report{Discovery: func() Discovery {
				d := velero("gone", FromDaemonSet, "30m", FromDefault)
				d.ConfigMapFound = false
				return d
			}(), ExitCode: ExitUnchecked, Problems: []string{
				`ConfigMap velero/gone does not exist: Velero's node-agent exits at start: error getting node agent configs from configMap gone: error to get node agent configs gone: configmaps "gone" not found; create it in namespace velero or drop --node-agent-configmap`}}},
		{name: "ConfigMap Velero refuses: its words, then the lint",
			objs: []client.Object{nodeAgent(nil, "node-agent", "server", "--node-agent-configmap=two"), configMap("two", map[string]string{"a.json": "{}", "b.json": "{}"})},
			want: func() Report {
				d := velero("two", FromDaemonSet, "30m", FromDefault)
				return Report{Discovery: d, ExitCode: ExitUnchecked,
					Lint:     []config.Finding{{Path: "data", Severity: config.SeverityError, Message: "2 keys [a.json b.json]: Velero's node-agent accepts exactly one (velero install does not check this)"}},
					Problems: []string{"Velero's node-agent refuses ConfigMap velero/two and exits at start: error getting node agent configs from configMap two: more than one keys are found in ConfigMap two's data. only expect one; velero/two has 2 data keys [a.json b.json] (velero install does not check this) (the lint findings say where)"}}
			}()},
		{name: "a prepare timeout the node-agent cannot parse",
			objs: []client.Object{nodeAgent(nil, "node-agent", "server", "--data-mover-prepare-timeout=30")},
			want: Report{Discovery: Discovery{Namespace: "velero", DaemonSet: "velero/node-agent", Container: "node-agent", ConfigMapFrom: FromNone,
				PrepareTimeout: dur(30 * time.Minute), PrepareTimeoutFrom: FromDefault}, ExitCode: ExitUnchecked,
				Problems: []string{`DaemonSet velero/node-agent, container node-agent: --data-mover-prepare-timeout "30" is not a duration: the node-agent exits at start (invalid argument)`}}},
		{name: "no DaemonSet",
			want: Report{Discovery: Discovery{Namespace: "velero", ConfigMapFrom: FromNone, PrepareTimeout: dur(30 * time.Minute), PrepareTimeoutFrom: FromDefault},
				ExitCode: ExitUnchecked, Problems: []string{`no DaemonSet node-agent in namespace velero: Velero says "Velero node agent not found for linux nodes; ` +
					`pod volume backups/restores and data mover backups/restores will not work until it's created" (velero install --use-node-agent); ` +
					`if the node-agents run otherwise, give their --node-agent-configmap and --data-mover-prepare-timeout to the doctor`}}},
		{name: "no DaemonSet, the configuration given as flags",
			objs: []client.Object{good}, opts: Options{ConfigMap: ptr.To("node-agent-config"), PrepareTimeout: 20 * time.Second},
			want: withPVCs(Report{Discovery: Discovery{Namespace: "velero", ConfigMap: "node-agent-config", ConfigMapFrom: FromFlag, ConfigMapFound: true,
				PrepareTimeout: dur(20 * time.Second), PrepareTimeoutFrom: FromFlag}, Entries: []Entry{goodEntry()},
				Notes: []string{"no DaemonSet node-agent in namespace velero: data mover backups will not work until it is created; checking the configuration given by the doctor's flags"}})},
		{name: "the doctor's flags override the DaemonSet's",
			objs: []client.Object{nodeAgent(nil, "node-agent", "server", "--node-agent-configmap=old", "--data-mover-prepare-timeout=1h"), good},
			opts: Options{ConfigMap: ptr.To("node-agent-config"), PrepareTimeout: time.Minute},
			want: withPVCs(Report{Discovery: velero("node-agent-config", FromFlag, "1m", FromFlag), Entries: []Entry{goodEntry()},
				Notes: []string{`checking ConfigMap "node-agent-config" given to the doctor, not "old" that DaemonSet velero/node-agent gives the node-agent`}})},
		{name: "another Velero namespace that does not exist", opts: Options{Namespace: "backup-system"},
			want: Report{Discovery: Discovery{Namespace: "backup-system", ConfigMapFrom: FromNone, PrepareTimeout: dur(30 * time.Minute), PrepareTimeoutFrom: FromDefault},
				ExitCode: ExitUnchecked, Problems: []string{"namespace backup-system does not exist: is Velero installed there? (give its namespace with --namespace)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeClient(t, nil, append(baseObjects(), tt.objs...)...)
			got := Run(context.Background(), c, tt.opts)
			if diff := cmp.Diff(tt.want, *got, ignoreTook); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlagValue(t *testing.T) {
	tests := []struct {
		args  []string
		value string
		found bool
	}{
		{[]string{"server", "--node-agent-configmap=a"}, "a", true},
		{[]string{"server", "--node-agent-configmap", "a"}, "a", true},
		{[]string{"server", "--node-agent-configmap=a", "--node-agent-configmap", "b"}, "b", true},
		{[]string{"server", "--node-agent-configmap="}, "", true},
		{[]string{"server", "--node-agent-configmap"}, "", false},
		{[]string{"server", "--node-agent-configmapx=a"}, "", false},
		{[]string{"server", "--", "--node-agent-configmap=a"}, "", false},
	}
	for _, tt := range tests {
		v, ok := flagValue(tt.args, flagConfigMap)
		if v != tt.value || ok != tt.found {
			t.Errorf("flagValue(%q) = %q, %v; want %q, %v", tt.args, v, ok, tt.value, tt.found)
		}
	}
}
