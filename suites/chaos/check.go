package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Outcomes a round's Backup must reach (Velero's phases, E2).
const (
	Completed       = "Completed"
	PartiallyFailed = "PartiallyFailed"
)

// MessagePrepareTimeout is the DataUpload message Velero v1.18.3 sets at the prepare timeout (D5).
const MessagePrepareTimeout = "timeout on preparing data upload"

// Terminal DataUpload phases (D1).
var terminalDU = []string{"Completed", "Failed", "Canceled"}

// KillRecord is a kill as it happened.
type KillRecord struct {
	Component string `json:"component"`
	// Planned and At are after the round's Backups were created: a kill waits for the one before
	// it (each restart is watched for a second), so At can be later than planned.
	Planned time.Duration `json:"planned"`
	At      time.Duration `json:"at"`
	// Time is when the SIGKILL was sent.
	Time time.Time `json:"time"`
	// Down is from the SIGKILL until the restarted process had lived through its first second.
	Down  time.Duration `json:"down"`
	Error string        `json:"error,omitempty"`
}

// BackupRecord is one Backup of a round and what it ended as.
type BackupRecord struct {
	Name   string `json:"name"`
	Expect string `json:"expect"`
	// Phase is its last phase seen ("" when it never got one).
	Phase  string `json:"phase"`
	Errors int    `json:"errors"`
}

// DataUploadRecord is one DataUpload of a round as it was watched.
type DataUploadRecord struct {
	Name    string `json:"name"`
	UID     string `json:"uid"`
	Backup  string `json:"backup"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// Phases are the phases seen, in order, each once.
	Phases   []string  `json:"phases"`
	Accepted time.Time `json:"accepted,omitzero"`
	// Prepared is when the watch first saw it past Accepted (Prepared, InProgress or an end
	// after either): its expose was done.
	Prepared time.Time `json:"prepared,omitzero"`
	// Ended is when the watch first saw it in a terminal phase.
	Ended time.Time `json:"ended,omitzero"`
}

// RoundRecord is everything one round recorded, and what its checks found.
type RoundRecord struct {
	Round int          `json:"round"`
	Kills []KillRecord `json:"kills"`
	// Exited are the lane components that exited on their own during the round and were
	// restarted by the watchdog (a sidecar whose driver was restarted).
	Exited      []string           `json:"exitedAndRestarted"`
	Backups     []BackupRecord     `json:"backups"`
	DataUploads []DataUploadRecord `json:"dataUploads"`
	// Leftovers are the intermediate objects of the round's exposes still there after the wait
	// for the cleanup, and what the round's own cleanup could not remove.
	Leftovers []string      `json:"leftovers"`
	Duration  time.Duration `json:"duration"`
	// Filled in by Check.
	Right    int             `json:"right"`
	Wrong    int             `json:"wrong"`
	Lateness []time.Duration `json:"timeoutLateness"`
	// Interrupted counts backups expected Completed whose expose the system's kill cut short and
	// that ended, as Velero does, at the prepare timeout (see Check).
	Interrupted int      `json:"interruptedExposes"`
	Problems    []string `json:"problems"`
}

// Limits are what Check measures the timeouts against.
type Limits struct {
	PrepareTimeout time.Duration
	// CheckInterval is the system's timeout check period (a timeout may fire that much late).
	CheckInterval time.Duration
	// Margin is the extra lateness allowed: a restart in between, the watch's polling.
	Margin time.Duration
}

// Check judges a round from its records: each Backup's outcome, its DataUploads' end (a backup
// expected PartiallyFailed must have failed at the prepare timeout, not early, not later than
// the check interval plus the margin), no DataUpload left in a non-terminal phase, no leftovers.
// It sets Right, Wrong, Interrupted, Lateness and Problems.
//
// A backup expected Completed may instead end PartiallyFailed at the prepare timeout, on time,
// when the system under test was killed while its DataUpload was Accepted (its expose under way):
// Velero v1.18.3 does not resume an interrupted expose after a restart; it keeps the DataUpload
// Accepted and fails it at acceptedTimestamp + timeout (D4, D7; data_upload_controller.go's
// Accepted branch only peeks at the expose and checks the timeout). Such backups count as right
// and as Interrupted. acceptedTimestamp has one-second precision, so a kill up to a second before
// the acceptance can pass as during it.
func Check(r *RoundRecord, lim Limits) {
	r.Right, r.Wrong, r.Interrupted, r.Lateness, r.Problems = 0, 0, 0, nil, nil
	for _, b := range r.Backups {
		if b.Expect == Completed && b.Phase == PartiallyFailed && interrupted(r, b.Name) {
			b.Expect = PartiallyFailed
			if problems := checkBackup(r, b, lim); len(problems) == 0 {
				r.Right++
				r.Interrupted++
				continue
			}
			b.Expect = Completed
		}
		problems := checkBackup(r, b, lim)
		if len(problems) == 0 {
			r.Right++
			continue
		}
		r.Wrong++
		r.Problems = append(r.Problems, problems...)
	}
	for _, l := range r.Leftovers {
		r.Problems = append(r.Problems, "left behind: "+l)
	}
}

func checkBackup(r *RoundRecord, b BackupRecord, lim Limits) []string {
	var problems []string
	if b.Phase != b.Expect {
		problems = append(problems, fmt.Sprintf("Backup %s ended %s with %d errors, want %s", b.Name, phaseOf(b.Phase), b.Errors, b.Expect))
	}
	var dus []DataUploadRecord
	for _, du := range r.DataUploads {
		if du.Backup == b.Name {
			dus = append(dus, du)
		}
	}
	if len(dus) != 1 {
		// One PVC per backup: one DataUpload, no more (a restart must not expose it twice).
		problems = append(problems, fmt.Sprintf("Backup %s has %d DataUploads, want 1", b.Name, len(dus)))
	}
	for _, du := range dus {
		if !slices.Contains(terminalDU, du.Phase) {
			problems = append(problems, fmt.Sprintf("DataUpload %s stuck %s (phases %v)", du.Name, phaseOf(du.Phase), du.Phases))
			continue
		}
		switch b.Expect {
		case Completed:
			if du.Phase != "Completed" {
				problems = append(problems, fmt.Sprintf("DataUpload %s ended %s %q, want Completed", du.Name, du.Phase, du.Message))
			}
		case PartiallyFailed:
			if du.Phase != "Failed" || du.Message != MessagePrepareTimeout {
				problems = append(problems, fmt.Sprintf("DataUpload %s ended %s %q, want Failed %q", du.Name, du.Phase, du.Message, MessagePrepareTimeout))
				continue
			}
			if du.Accepted.IsZero() || du.Ended.IsZero() {
				problems = append(problems, fmt.Sprintf("DataUpload %s failed with no acceptedTimestamp or end seen", du.Name))
				continue
			}
			late := du.Ended.Sub(du.Accepted.Add(lim.PrepareTimeout))
			r.Lateness = append(r.Lateness, late)
			// acceptedTimestamp has one-second precision: a failure up to a second early is on time.
			if late < -time.Second {
				problems = append(problems, fmt.Sprintf("DataUpload %s failed %v before acceptedTimestamp + %v", du.Name, (-late).Round(time.Millisecond), lim.PrepareTimeout))
			}
			if most := lim.CheckInterval + lim.Margin; late > most {
				problems = append(problems, fmt.Sprintf("DataUpload %s failed %v after acceptedTimestamp + %v, more than the check interval %v + margin %v",
					du.Name, late.Round(time.Millisecond), lim.PrepareTimeout, lim.CheckInterval, lim.Margin))
			}
		}
	}
	return problems
}

// interrupted says whether the system under test was killed while the backup's DataUpload was
// Accepted: at or after its acceptedTimestamp and before it was seen past Accepted.
func interrupted(r *RoundRecord, backup string) bool {
	for _, du := range r.DataUploads {
		if du.Backup != backup || du.Accepted.IsZero() {
			continue
		}
		for _, k := range r.Kills {
			if k.Component == SUTComponent && !k.Time.Before(du.Accepted) && (du.Prepared.IsZero() || k.Time.Before(du.Prepared)) {
				return true
			}
		}
	}
	return false
}

func phaseOf(p string) string {
	if p == "" {
		return "with no phase"
	}
	return p
}

// Object is one cluster object as the leftover checks see it.
type Object struct {
	Kind, Namespace, Name string
	// Ref is where it points: a PV's claim or a VolumeSnapshotContent's snapshot, as
	// "namespace/name" ("" for other kinds).
	Ref string
	// Labels it carries.
	Labels map[string]string
	// Terminating: deleted, held by a finalizer.
	Terminating bool
}

func (o Object) String() string {
	s := o.Kind + " "
	if o.Namespace != "" {
		s += o.Namespace + "/"
	}
	s += o.Name
	if o.Ref != "" {
		s += " (of " + o.Ref + ")"
	}
	if o.Terminating {
		s += " (terminating)"
	}
	return s
}

// CopyLabel marks the secrets and configmaps an expose copies into the Velero namespace (B10).
const CopyLabel = "velero.io/backup-pvc-secret"

// ExposeLeftovers are the objects of the exposes of the DataUploads named names (UIDs uids) in
// objs: in the Velero namespace veleroNS their pods, PVCs and VolumeSnapshots (named after the
// DataUpload) and the copies labelled with their UIDs; anywhere, a PV bound to such a claim and a
// VolumeSnapshotContent of such a snapshot. Once the DataUploads have ended there must be none
// (D6). Only the round's own count: what an earlier round left is that round's leak, counted once.
func ExposeLeftovers(objs []Object, veleroNS string, names, uids []string) []string {
	var out []string
	for _, o := range objs {
		ns, name, _ := strings.Cut(o.Ref, "/")
		switch {
		case o.Namespace == veleroNS && slices.Contains(names, o.Name) && (o.Kind == "Pod" || o.Kind == "PersistentVolumeClaim" || o.Kind == "VolumeSnapshot"):
		case o.Namespace == veleroNS && (o.Kind == "Secret" || o.Kind == "ConfigMap") && o.Labels[CopyLabel] != "" && slices.Contains(uids, o.Labels[CopyLabel]):
		case (o.Kind == "PersistentVolume" || o.Kind == "VolumeSnapshotContent") && ns == veleroNS && slices.Contains(names, name):
		default:
			continue
		}
		out = append(out, o.String())
	}
	sort.Strings(out)
	return out
}

// RoundLeftovers are the objects of the round's own namespaces in objs after its cleanup: the
// namespaces themselves, anything in them, PVs and VolumeSnapshotContents that point into them.
func RoundLeftovers(objs []Object, namespaces []string) []string {
	var out []string
	for _, o := range objs {
		ns, _, _ := strings.Cut(o.Ref, "/")
		if (o.Kind == "Namespace" && slices.Contains(namespaces, o.Name)) || slices.Contains(namespaces, o.Namespace) ||
			(o.Ref != "" && slices.Contains(namespaces, ns)) {
			out = append(out, o.String())
		}
	}
	sort.Strings(out)
	return out
}
