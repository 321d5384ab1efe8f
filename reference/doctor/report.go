package doctor

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/backuppvc-conformance/harness/reference/config"
)

// Exit codes of the doctor.
const (
	// ExitFine: every entry would work (warnings and notes aside).
	ExitFine = 0
	// ExitStall: at least one entry will stall or be refused (whatever else could not be checked).
	ExitStall = 1
	// ExitUnchecked: nothing will stall as far as the doctor could tell, but something could not be
	// checked (the cluster, the namespace, the ConfigMap, permissions, a probe that could not run).
	ExitUnchecked = 2
)

// Verdict is what a data-mover backup of a PVC of an entry's source class would do, in Velero's terms.
type Verdict string

const (
	// VerdictFine: the backupPVC is provisioned (and, probed, bound within the prepare timeout).
	VerdictFine Verdict = "fine"
	// VerdictStalls: the DataUpload stays Accepted for the whole prepare timeout, then fails with
	// "timeout on preparing data upload", and the backup ends PartiallyFailed.
	VerdictStalls Verdict = "stalls"
	// VerdictFails: the backup's volume snapshot cannot be taken, so the backup ends
	// PartiallyFailed without a DataUpload for the volume.
	VerdictFails Verdict = "fails"
	// VerdictNeverApplies: no storage class has the entry's name, so no PVC ever matches it.
	VerdictNeverApplies Verdict = "neverApplies"
	// VerdictUnknown: the doctor could not tell.
	VerdictUnknown Verdict = "unknown"
)

// Status is one check's result.
type Status string

// Check statuses.
const (
	StatusOK      Status = "ok"
	StatusFail    Status = "fail"
	StatusWarning Status = "warning"
	StatusSkipped Status = "skipped"
	StatusUnknown Status = "unknown"
)

// Check names, in the order they run.
const (
	CheckSourceClass    = "sourceClass"
	CheckBackupPVCClass = "backupPVCClass"
	CheckProvisioner    = "provisioner"
	CheckSnapshotClass  = "snapshotClass"
	CheckReadOnly       = "readOnly"
	CheckProbe          = "probe"
)

// Check is one check of one entry.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
}

// Entry is one backupPVC entry of the node-agent ConfigMap and what the doctor found about it.
type Entry struct {
	// SourceClass is the entry's key: the source PVC's storage class it applies to (spec B1).
	SourceClass string `json:"sourceClass"`
	// BackupPVCClass is the class the backupPVC gets: the entry's storageClass, or the source class
	// when that is empty (spec B3).
	BackupPVCClass string `json:"backupPVCClass"`
	// AccessMode is ReadOnlyMany with readOnly: true, else ReadWriteOnce (spec B4).
	AccessMode corev1.PersistentVolumeAccessMode `json:"accessMode"`
	ReadOnly   bool                              `json:"readOnly"`
	// Driver is the source class's provisioner, when the class exists.
	Driver string `json:"driver,omitempty"`
	// SnapshotClass is the VolumeSnapshotClass Velero would pick for Driver.
	SnapshotClass string  `json:"snapshotClass,omitempty"`
	Checks        []Check `json:"checks"`
	// Probe is set when the entry was probed (or meant to be and could not be).
	Probe   *Probe  `json:"probe,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Summary says the verdict in Velero's terms, with the reason.
	Summary string `json:"summary"`

	annotations map[string]string
	wffc        bool // a class involved binds WaitForFirstConsumer
}

// ClassUse is a storage class PVCs use, and how many.
type ClassUse struct {
	Class string `json:"class"`
	PVCs  int    `json:"pvcs"`
}

// Report is the doctor's whole result.
type Report struct {
	Discovery Discovery        `json:"discovery"`
	Lint      []config.Finding `json:"lint"`
	Entries   []Entry          `json:"entries"`
	// UnusedEntries are entries whose source class no PVC in the cluster has (informational).
	UnusedEntries []string `json:"unusedEntries"`
	// ClassesWithoutEntry are storage classes PVCs use that have no entry: their backupPVCs use
	// the source class and ReadWriteOnce (informational; the Velero namespace's PVCs are left out).
	ClassesWithoutEntry []ClassUse `json:"classesWithoutEntry"`
	// Notes are informational lines (what a missing DaemonSet or ConfigMap means, skipped checks).
	Notes []string `json:"notes"`
	// Problems are what could not be checked; each one line saying why.
	Problems []string `json:"problems"`
	// ProbeRun is set when --probe ran.
	ProbeRun *ProbeRun `json:"probeRun,omitempty"`
	ExitCode int       `json:"exitCode"`
	// Took is how long the whole run took.
	Took metav1.Duration `json:"took"`
}

// ProbeRun describes one probe of the entries.
type ProbeRun struct {
	// Run labels everything the probe created: doctor.backuppvc.io/run=<Run>.
	Run         string          `json:"run"`
	Selector    string          `json:"selector"`
	Namespaces  []string        `json:"namespaces"`
	Timeout     metav1.Duration `json:"timeout"`
	Took        metav1.Duration `json:"took"`
	CleanupTook metav1.Duration `json:"cleanupTook"`
	// Interrupted: the run was cancelled (Ctrl-C) before every probe ended.
	Interrupted bool `json:"interrupted"`
	// Left names what the probe created and could not remove (empty when it left nothing).
	Left []string `json:"left"`
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// exitCode: 1 when any entry stalls or fails, else 2 when anything could not be checked, else 0.
func (r *Report) exitCode() int {
	unchecked := len(r.Problems) > 0
	for _, e := range r.Entries {
		switch e.Verdict {
		case VerdictStalls, VerdictFails:
			return ExitStall
		case VerdictUnknown:
			unchecked = true
		}
	}
	if r.ProbeRun != nil && len(r.ProbeRun.Left) > 0 {
		unchecked = true
	}
	if unchecked {
		return ExitUnchecked
	}
	return ExitFine
}

func dur(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func durPtr(d time.Duration) *metav1.Duration {
	return &metav1.Duration{Duration: d.Round(time.Millisecond)}
}
