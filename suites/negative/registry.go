// Package negative runs the negative controls: the reference built with one planted defect at a
// time (reference/mutant), each against the conformance specs that must fail it. A control is
// caught only when one of those specs fails saying what the defect breaks (its Evidence), so that
// a lane hiccup or an unrelated failure never counts as the suites' verdict power.
package negative

import (
	"fmt"
	"regexp"
)

// Mutant is one planted defect and the spec that must catch it.
type Mutant struct {
	// Name is its reference/mutant name.
	Name string
	// Item is the spec item (../shared/spec/SPEC.md) it gets wrong.
	Item string
	// Plants says what is wrong in the system under test.
	Plants string
	// Focus is the full text, or a part of it, of the conformance spec run against it (a
	// literal, not a regular expression).
	Focus string
	// Evidence is what the failure message of a spec that caught it contains.
	Evidence string
	// Slow: the spec waits for the prepare timeout, for a leak to stay (90 s), or starts the system
	// against a ConfigMap (a build and a start-up), not just for the objects' shapes; the slow ones
	// are started first.
	Slow bool
}

// FocusRegexp is the Ginkgo --focus of the mutant's spec.
func (m Mutant) FocusRegexp() string { return regexp.QuoteMeta(m.Focus) }

// The specs, as their full text starts (Describe "backupPVC" + the scenario's name).
const (
	specNoEntry         = "backupPVC no-entry:"
	specEmptyClass      = "backupPVC empty-class:"
	specOverride        = "backupPVC override:"
	specAnnotations     = "backupPVC annotations:"
	specReadOnly        = "backupPVC read-only:"
	specCaseInsensitive = "backupPVC case-insensitive:"
	specMissingClass    = "backupPVC missing-class:"
	specBlock           = "backupPVC block:"
	specUnrecoverable   = "backupPVC unrecoverable-pod:"
	specCopies          = "backupPVC copies:"
	specRestart         = "backupPVC restart-while-accepted:"
	specLoadAffinity    = "backupPVC load-affinity:"
	specCopyCollision   = "backupPVC copy-collision:"
	specReadOnlySource  = "backupPVC read-only-source:"
	specSPCReadOnly     = "backupPVC spc-read-only:"
	specSPCReadWrite    = "backupPVC spc-read-write:"
	specRestoreSize     = "backupPVC restore-size:"
	specTwoKeys         = "A4 two data keys"
	specStringBoolean   = "A5 a string for a boolean"
	specNoConfigMap     = "A6 no --node-agent-configmap"
)

// Mutants are the negative controls, at least one per spec item a conformance spec judges on the
// local lane. Each names the one spec run against it: the cheapest that must catch it.
var Mutants = []Mutant{
	{Name: "a4-two-keys-accepted", Item: "A4", Plants: "a ConfigMap with two data keys is accepted (the first key read)",
		Focus: specTwoKeys, Evidence: "it did not exit on ConfigMap", Slow: true},
	{Name: "a5-case-sensitive-keys", Item: "A5", Plants: "an entry's storageClass and readOnly count only when spelled exactly so",
		Focus: specCaseInsensitive, Evidence: "storageClassName"},
	{Name: "a5-type-mismatch-ignored", Item: "A5", Plants: `"readOnly": "true" is read as false instead of refused`,
		Focus: specStringBoolean, Evidence: "it did not exit on ConfigMap", Slow: true},
	{Name: "a6-default-name", Item: "A6", Plants: "with no ConfigMap named, the node-agent reads one of the usual name (node-agent-config) in its namespace",
		Focus: specNoConfigMap, Evidence: "storageClassName", Slow: true},
	{Name: "b1-default-entry", Item: "B1", Plants: "a source class with no entry gets the first entry, as if there were a default",
		Focus: specNoEntry, Evidence: "storageClassName"},
	{Name: "b2-no-entry-read-only", Item: "B2", Plants: "no entry gives ReadOnlyMany",
		Focus: specNoEntry, Evidence: "want exactly [ReadWriteOnce]"},
	{Name: "b3-empty-class-unset", Item: "B3", Plants: `an entry with storageClass "" leaves the backupPVC's class empty`,
		Focus: specEmptyClass, Evidence: "storageClassName"},
	{Name: "b4-read-only-rwo", Item: "B4", Plants: "readOnly: true still gives ReadWriteOnce",
		Focus: specReadOnly, Evidence: "accessModes [ReadWriteOnce], want exactly [ReadOnlyMany]"},
	{Name: "b4-extra-access-mode", Item: "B4", Plants: "readOnly: true gives [ReadOnlyMany ReadWriteOnce]",
		Focus: specReadOnly, Evidence: "accessModes [ReadOnlyMany ReadWriteOnce]"},
	{Name: "b4-override-ignored", Item: "B4", Plants: "the storageClass override is applied only with readOnly",
		Focus: specOverride, Evidence: "storageClassName"},
	{Name: "b4-read-only-needs-class", Item: "B3 B4", Plants: "readOnly is ignored when the entry names no storageClass (the documentation's sample entry gives ReadWriteOnce)",
		Focus: specReadOnlySource, Evidence: "accessModes [ReadWriteOnce], want exactly [ReadOnlyMany]"},
	{Name: "b5-label", Item: "B5", Plants: "a velero.io/data-upload label on the backupPVC",
		Focus: specOverride, Evidence: "want none"},
	{Name: "b5-annotations-dropped", Item: "B5", Plants: "the entry's annotations are not put on the backupPVC",
		Focus: specAnnotations, Evidence: "want the entry's"},
	{Name: "b5-owner-not-controller", Item: "B5", Plants: "the backupPVC's owner reference to the DataUpload is not a controller reference",
		Focus: specOverride, Evidence: "want one controller reference"},
	{Name: "b6-block-as-filesystem", Item: "B6", Plants: "the backupPVC is Filesystem whatever the source's volume mode",
		Focus: specBlock, Evidence: "volumeMode"},
	{Name: "b6-data-source-original", Item: "B6", Plants: "the backupPVC's dataSource names the original VolumeSnapshot, not the backupVS",
		Focus: specOverride, Evidence: "dataSource"},
	{Name: "b7-size-from-source", Item: "B7", Plants: "the backupPVC requests the source PVC's size even when the original VolumeSnapshot's restoreSize differs",
		Focus: specRestoreSize, Evidence: "requests.storage 1Gi, want 2Gi"},
	{Name: "b8-backup-vsc-retain", Item: "B8", Plants: "the backupVSC's deletionPolicy is Retain: it outlives the backupVS",
		Focus: specOverride, Evidence: "backupVSC", Slow: true},
	{Name: "b9-spc-ignored", Item: "B9 C3", Plants: "spcNoRelabeling is ignored even with readOnly: no spc_t",
		Focus: specSPCReadOnly, Evidence: "want pod securityContext.seLinuxOptions.type spc_t"},
	{Name: "b9-spc-without-read-only", Item: "B9 C3", Plants: "spcNoRelabeling takes effect without readOnly: spc_t on a read-write backupPod",
		Focus: specSPCReadWrite, Evidence: "spc_t at [pod], want none"},
	{Name: "b10-copies-kept", Item: "B10", Plants: "the cleanup leaves the copied secrets and configmaps",
		Focus: specCopies, Evidence: "left in", Slow: true},
	{Name: "b10-collision-overwritten", Item: "B10", Plants: "a secret of the copy's name the system did not make is taken over (labelled as the copy)",
		Focus: specCopyCollision, Evidence: "want Failed"},
	{Name: "c1-restart-always", Item: "C1", Plants: "the backupPod's restartPolicy is Always",
		Focus: specOverride, Evidence: "restartPolicy Always, want Never"},
	{Name: "c1-grace-period", Item: "C1", Plants: "the backupPod has a 30 s termination grace period",
		Focus: specOverride, Evidence: "terminationGracePeriodSeconds 30, want 0"},
	{Name: "c2-volume-writable", Item: "C2", Plants: "with readOnly, the backupPod's volume is not read-only",
		Focus: specReadOnly, Evidence: "volume readOnly=false, want true"},
	{Name: "c2-mount-writable", Item: "C2", Plants: "with readOnly, the volume is read-only but its mount is not",
		Focus: specReadOnly, Evidence: "mount readOnly=false, want true"},
	{Name: "c3-run-as-non-root", Item: "C3", Plants: "the backupPod runs as user 1000",
		Focus: specOverride, Evidence: "runAsUser not 0"},
	{Name: "c4-no-pod-group-label", Item: "C4", Plants: "the backupPod lacks the velero.io/exposer-pod-group label",
		Focus: specOverride, Evidence: "want velero.io/data-upload="},
	{Name: "c5-affinity-by-source-class", Item: "C5", Plants: "loadAffinity is matched against the source PVC's class, not the backupPVC's",
		Focus: specLoadAffinity, Evidence: "matched against the wrong class"},
	{Name: "d1-skip-prepared", Item: "D1", Plants: "the DataUpload goes from Accepted straight to InProgress (one phase skipped)",
		Focus: specOverride, Evidence: "want Accepted, Prepared, InProgress in that order"},
	{Name: "d2-no-expose-label", Item: "D2", Plants: "the DataUpload is Accepted without the velero.io/expose-on-going label",
		Focus: specMissingClass, Evidence: "Accepted without the label velero.io/expose-on-going=true"},
	{Name: "d3-pending-canceled", Item: "D3", Plants: "a Pending backupPod is taken as unrecoverable: the DataUpload is Canceled",
		Focus: specOverride, Evidence: "want Accepted, Prepared, InProgress in that order"},
	{Name: "d3-failed-pod-ignored", Item: "D3", Plants: "a Failed backupPod is waited for: the DataUpload fails at the prepare timeout instead of Canceled at once",
		Focus: specUnrecoverable, Evidence: "want Canceled: its backupPod failed before it ran", Slow: true},
	{Name: "d4-timeout-early", Item: "D4", Plants: "the prepare timeout fires at half its length",
		Focus: specMissingClass, Evidence: "before the", Slow: true},
	{Name: "d5-timeout-message", Item: "D5", Plants: "the timed-out DataUpload's message is not Velero's",
		Focus: specMissingClass, Evidence: `want Failed "timeout on preparing data upload"`, Slow: true},
	{Name: "d5-expose-label-kept", Item: "D5", Plants: "the timed-out DataUpload keeps its velero.io/expose-on-going label",
		Focus: specMissingClass, Evidence: "label velero.io/expose-on-going=true still there", Slow: true},
	{Name: "d5-no-diagnosis", Item: "D5", Plants: "the timed-out expose is not diagnosed in the log",
		Focus: specMissingClass, Evidence: "the expose's diagnosis", Slow: true},
	{Name: "d6-backup-pvc-left", Item: "D6", Plants: "the cleanup leaves the backupPVC (and its PV)",
		Focus: specOverride, Evidence: "left behind after DataUpload", Slow: true},
	{Name: "d6-snapshot-first", Item: "D6", Plants: "the cleanup deletes the backupVS first, before the backupPod and the backupPVC",
		Focus: specOverride, Evidence: "out of D6's order"},
	{Name: "d7-count-from-restart", Item: "D7", Plants: "a restarted controller counts the prepare timeout from its own start, not from acceptedTimestamp",
		Focus: specRestart, Evidence: "should have fired by", Slow: true},
	{Name: "e1-failure-not-counted", Item: "E1", Plants: "a Failed DataUpload counts as a success: the Backup Completed",
		Focus: specMissingClass, Evidence: "want PartiallyFailed with 1", Slow: true},
	{Name: "e1-canceled-not-counted", Item: "E1", Plants: "a Canceled DataUpload counts as a success: the Backup Completed",
		Focus: specUnrecoverable, Evidence: "want PartiallyFailed with 1"},
	{Name: "e2-no-completion-timestamp", Item: "E2", Plants: "the Backup ends with no completionTimestamp",
		Focus: specOverride, Evidence: "no completionTimestamp"},
}

// Find is the mutant of that name.
func Find(name string) (Mutant, error) {
	for _, m := range Mutants {
		if m.Name == name {
			return m, nil
		}
	}
	return Mutant{}, fmt.Errorf("negative: no mutant %q", name)
}
