package chaos

import (
	"strings"
	"testing"
	"time"
)

var lim = Limits{PrepareTimeout: 10 * time.Second, CheckInterval: 250 * time.Millisecond, Margin: 5 * time.Second}

var accepted = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// goodRound is a round where everything went right: two backups Completed, one PartiallyFailed
// at the prepare timeout, 300 ms late.
func goodRound() *RoundRecord {
	return &RoundRecord{Round: 1,
		Backups: []BackupRecord{{Name: "b0", Expect: Completed, Phase: Completed}, {Name: "b1", Expect: Completed, Phase: Completed},
			{Name: "b2", Expect: PartiallyFailed, Phase: PartiallyFailed, Errors: 1}},
		DataUploads: []DataUploadRecord{
			{Name: "d0", Backup: "b0", Phase: "Completed", Phases: []string{"Accepted", "Prepared", "InProgress", "Completed"}},
			{Name: "d1", Backup: "b1", Phase: "Completed"},
			{Name: "d2", Backup: "b2", Phase: "Failed", Message: MessagePrepareTimeout, Accepted: accepted, Ended: accepted.Add(10300 * time.Millisecond)},
		}}
}

// interrupt makes b0's expose one the system's kill at kill cut short: its DataUpload stayed
// Accepted and failed at the prepare timeout, the Backup PartiallyFailed.
func interrupt(r *RoundRecord, kill time.Time) {
	r.Kills = []KillRecord{{Component: SUTComponent, Time: kill}}
	r.Backups[0].Phase, r.Backups[0].Errors = PartiallyFailed, 1
	r.DataUploads[0] = DataUploadRecord{Name: "d0", Backup: "b0", Phase: "Failed", Message: MessagePrepareTimeout,
		Accepted: accepted, Ended: accepted.Add(10200 * time.Millisecond)}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name        string
		change      func(r *RoundRecord)
		right       int
		wantProblem string
	}{
		{name: "all right", change: func(*RoundRecord) {}, right: 3},
		{name: "a backup that should complete failed", change: func(r *RoundRecord) { r.Backups[0].Phase = PartiallyFailed }, right: 2,
			wantProblem: "Backup b0 ended PartiallyFailed with 0 errors, want Completed"},
		{name: "a backup that never got a phase", change: func(r *RoundRecord) { r.Backups[1].Phase = "" }, right: 2,
			wantProblem: "Backup b1 ended with no phase"},
		{name: "a DataUpload stuck Accepted", change: func(r *RoundRecord) { r.DataUploads[1].Phase = "Accepted" }, right: 2,
			wantProblem: "DataUpload d1 stuck Accepted"},
		{name: "a second DataUpload for one backup (exposed twice after a restart)", change: func(r *RoundRecord) {
			r.DataUploads = append(r.DataUploads, DataUploadRecord{Name: "d0b", Backup: "b0", Phase: "Completed"})
		}, right: 2, wantProblem: "Backup b0 has 2 DataUploads, want 1"},
		{name: "no DataUpload at all", change: func(r *RoundRecord) { r.DataUploads = r.DataUploads[1:] }, right: 2,
			wantProblem: "Backup b0 has 0 DataUploads"},
		{name: "the timeout canceled, not failed", change: func(r *RoundRecord) { r.DataUploads[2].Phase = "Canceled" }, right: 2,
			wantProblem: "DataUpload d2 ended Canceled"},
		{name: "the timeout fired early", change: func(r *RoundRecord) { r.DataUploads[2].Ended = accepted.Add(8 * time.Second) }, right: 2,
			wantProblem: "DataUpload d2 failed 2s before"},
		// A restart that forgot acceptedTimestamp would start counting again: 10 s late.
		{name: "the timeout fired a restart late (D7)", change: func(r *RoundRecord) { r.DataUploads[2].Ended = accepted.Add(20 * time.Second) }, right: 2,
			wantProblem: "DataUpload d2 failed 10s after acceptedTimestamp + 10s"},
		// Velero does not resume an expose a crash cut short: the DataUpload fails at the timeout.
		{name: "an expose cut short by the system's kill", change: func(r *RoundRecord) {
			interrupt(r, accepted.Add(500*time.Millisecond))
		}, right: 3},
		{name: "a kill before the acceptance does not excuse a timeout", change: func(r *RoundRecord) {
			interrupt(r, accepted.Add(-2*time.Second))
		}, right: 2, wantProblem: "Backup b0 ended PartiallyFailed with 1 errors, want Completed"},
		{name: "a kill after the expose does not excuse a timeout", change: func(r *RoundRecord) {
			interrupt(r, accepted.Add(3*time.Second))
			r.DataUploads[0].Prepared = accepted.Add(2 * time.Second)
		}, right: 2, wantProblem: "want Completed"},
		{name: "an interrupted expose must still fail on time", change: func(r *RoundRecord) {
			interrupt(r, accepted.Add(500*time.Millisecond))
			r.DataUploads[0].Ended = accepted.Add(25 * time.Second)
		}, right: 2, wantProblem: "want Completed"},
		{name: "a lane component's kill does not excuse a timeout", change: func(r *RoundRecord) {
			interrupt(r, accepted.Add(500*time.Millisecond))
			r.Kills[0].Component = "csi-driver"
		}, right: 2, wantProblem: "want Completed"},
		{name: "a leftover", change: func(r *RoundRecord) { r.Leftovers = []string{"PersistentVolumeClaim v/d2"} }, right: 3,
			wantProblem: "left behind: PersistentVolumeClaim v/d2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goodRound()
			tt.change(r)
			Check(r, lim)
			if r.Right != tt.right || r.Wrong != len(r.Backups)-tt.right {
				t.Errorf("right %d wrong %d, want %d and %d; problems %q", r.Right, r.Wrong, tt.right, len(r.Backups)-tt.right, r.Problems)
			}
			got := strings.Join(r.Problems, "\n")
			if tt.wantProblem == "" && got != "" || !strings.Contains(got, tt.wantProblem) {
				t.Errorf("problems %q, want one containing %q", got, tt.wantProblem)
			}
		})
	}
	r := goodRound()
	interrupt(r, accepted.Add(time.Second))
	if Check(r, lim); r.Interrupted != 1 || len(r.Lateness) != 2 {
		t.Errorf("an interrupted expose: Interrupted %d, lateness %v; want 1 and two timeouts measured", r.Interrupted, r.Lateness)
	}
	r = goodRound()
	Check(r, lim)
	if len(r.Lateness) != 1 || r.Lateness[0] != 300*time.Millisecond {
		t.Errorf("lateness %v, want [300ms]", r.Lateness)
	}
	// Check replaces what an earlier Check found.
	Check(r, lim)
	if r.Right != 3 || len(r.Lateness) != 1 {
		t.Errorf("a second Check counted again: right %d lateness %v", r.Right, r.Lateness)
	}
}

func TestLeftovers(t *testing.T) {
	ns := "chaos-velero-x"
	objs := []Object{
		{Kind: "ConfigMap", Namespace: ns, Name: "node-agent-config"}, // the run's own, unlabelled
		{Kind: "ConfigMap", Namespace: ns, Name: "copied", Labels: map[string]string{CopyLabel: "uid"}},
		{Kind: "Secret", Namespace: "r01-0", Name: "src-secret", Labels: map[string]string{CopyLabel: "uid"}},
		{Kind: "Pod", Namespace: ns, Name: "du-1"},
		{Kind: "PersistentVolumeClaim", Namespace: ns, Name: "du-1", Terminating: true},
		{Kind: "PersistentVolumeClaim", Namespace: "r01-0", Name: "data"},
		{Kind: "VolumeSnapshot", Namespace: ns, Name: "du-1"},
		{Kind: "VolumeSnapshot", Namespace: "r01-0", Name: "velero-data"},
		{Kind: "PersistentVolume", Name: "pv-1", Ref: ns + "/du-1"},
		{Kind: "PersistentVolume", Name: "pv-src", Ref: "r01-0/data"},
		{Kind: "VolumeSnapshotContent", Name: "vsc-1", Ref: ns + "/du-1"},
		{Kind: "VolumeSnapshotContent", Name: "vsc-src", Ref: "r01-0/velero-data"},
		{Kind: "Namespace", Name: "r01-0"},
		{Kind: "Namespace", Name: ns},
		{Kind: "PersistentVolume", Name: "pv-other", Ref: "elsewhere/data"},
		// An earlier round's leak is not this round's.
		{Kind: "VolumeSnapshot", Namespace: ns, Name: "du-0"},
		{Kind: "VolumeSnapshotContent", Name: "vsc-0", Ref: ns + "/du-0"},
		{Kind: "Secret", Namespace: ns, Name: "copied-0", Labels: map[string]string{CopyLabel: "uid-0"}},
	}
	got := strings.Join(ExposeLeftovers(objs, ns, []string{"du-1", "du-2"}, []string{"uid", "uid-2"}), "\n")
	want := strings.Join([]string{
		"ConfigMap chaos-velero-x/copied",
		"PersistentVolume pv-1 (of chaos-velero-x/du-1)",
		"PersistentVolumeClaim chaos-velero-x/du-1 (terminating)",
		"Pod chaos-velero-x/du-1",
		"VolumeSnapshot chaos-velero-x/du-1",
		"VolumeSnapshotContent vsc-1 (of chaos-velero-x/du-1)",
	}, "\n")
	if got != want {
		t.Errorf("ExposeLeftovers:\n%s\nwant:\n%s", got, want)
	}
	got = strings.Join(RoundLeftovers(objs, []string{"r01-0", "r01-1"}), "\n")
	want = strings.Join([]string{
		"Namespace r01-0",
		"PersistentVolume pv-src (of r01-0/data)",
		"PersistentVolumeClaim r01-0/data",
		"Secret r01-0/src-secret",
		"VolumeSnapshot r01-0/velero-data",
		"VolumeSnapshotContent vsc-src (of r01-0/velero-data)",
	}, "\n")
	if got != want {
		t.Errorf("RoundLeftovers:\n%s\nwant:\n%s", got, want)
	}
	if left := ExposeLeftovers(objs[:1], ns, []string{"node-agent-config"}, nil); len(left) != 0 {
		t.Errorf("the node-agent ConfigMap counted as a leftover: %v", left)
	}
}
