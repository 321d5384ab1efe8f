package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/backuppvc-conformance/harness/suites/lane"
)

// How a DataUpload whose backupPod never runs ends: Failed at the prepare timeout (D4, D5), or
// Canceled at once when the backupPod can never run (D3).

// timeoutSlack is how late after the prepare timeout and the system's check interval a
// DataUpload may still be seen failing: the observer's lag under load.
const timeoutSlack = 5 * time.Second

// latestTimeout is the latest after acceptance a DataUpload may fail at the prepare timeout: the
// system checks the timeout every TimeoutCheckInterval, so it may fire that much late.
func (k *Checker) latestTimeout() time.Duration {
	return k.Profile.Timeouts.Prepare.Duration + k.Props.TimeoutCheckInterval + timeoutSlack
}

// expectPrepareTimeout: the DataUpload stays Accepted until the prepare timeout, then Failed with
// Velero's message; the Backup ends PartiallyFailed (D4, D5, E1, E2). The backupPVC's warning
// events are the evidence of why.
func (k *Checker) expectPrepareTimeout(ctx context.Context, r *Result) error {
	timeout := k.Profile.Timeouts.Prepare.Duration
	latest := k.latestTimeout()
	du, failedSeen, err := k.dataUploadFinal(ctx, r, "the DataUpload to fail at the prepare timeout", latest+time.Minute)
	if err != nil {
		return err
	}
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed || du.Status.Message != MessagePrepareTimeout {
		return fmt.Errorf("DataUpload %s ended %s %q, want Failed %q\n%s", du.Name, du.Status.Phase, du.Status.Message, MessagePrepareTimeout, k.describe(ctx, r))
	}
	// D5: what a timed-out DataUpload must not carry.
	var d5 []string
	if du.Status.StartTimestamp != nil || du.Status.CompletionTimestamp != nil {
		d5 = append(d5, fmt.Sprintf("startTimestamp %v, completionTimestamp %v, want neither", du.Status.StartTimestamp, du.Status.CompletionTimestamp))
	}
	if du.Status.Node != "" {
		d5 = append(d5, fmt.Sprintf("status.node %q, want empty", du.Status.Node))
	}
	if v, ok := du.Labels[ExposeOnGoingLabel]; ok {
		d5 = append(d5, fmt.Sprintf("label %s=%s still there", ExposeOnGoingLabel, v))
	}
	if len(d5) > 0 {
		return fmt.Errorf("DataUpload %s failed at the prepare timeout with %s", du.Name, strings.Join(d5, "; "))
	}
	phases := k.Obs.Phases(r.DataUpload)
	for _, p := range []velerov2alpha1.DataUploadPhase{velerov2alpha1.DataUploadPhasePrepared, velerov2alpha1.DataUploadPhaseInProgress} {
		if slices.Contains(phases, p) {
			return fmt.Errorf("DataUpload %s went %s before failing (phases %v): it was not stuck", du.Name, p, phases)
		}
	}
	// acceptedTimestamp has one-second precision: allow that much before the timeout.
	waited := failedSeen.Sub(du.Status.AcceptedTimestamp.Time)
	if waited < timeout-time.Second {
		return fmt.Errorf("DataUpload %s failed %v after it was accepted, before the %v prepare timeout", du.Name, waited.Round(time.Millisecond), timeout)
	}
	if waited > latest {
		return fmt.Errorf("DataUpload %s failed %v after it was accepted: the %v prepare timeout, checked every %v, should have fired by %v",
			du.Name, waited.Round(time.Millisecond), timeout, k.Props.TimeoutCheckInterval, latest)
	}
	if err := k.expectDiagnosis(ctx, r); err != nil {
		return err
	}
	why := k.Obs.Warnings(r.DataUpload)
	slices.Sort(why)
	r.Evidence = append(r.Evidence, fmt.Sprintf("DataUpload Accepted then Failed %q after %v; backupPVC warnings: %s",
		du.Status.Message, failedSeen.Sub(du.Status.AcceptedTimestamp.Time).Round(100*time.Millisecond), strings.Join(why, " | ")))
	return k.expectBackup(ctx, r, velerov1.BackupPhasePartiallyFailed, 1)
}

// expectCanceled: the backupPod failed before it ran, so the DataUpload is Canceled at once (not
// at the prepare timeout) with a message that gives the pod's abnormal state and names it (its
// name is the DataUpload's), never Prepared, its expose-on-going label gone (D3); the Backup
// counts the Canceled DataUpload as an operation error (E1).
func (k *Checker) expectCanceled(ctx context.Context, r *Result) error {
	timeout := k.Profile.Timeouts.Prepare.Duration
	du, endSeen, err := k.dataUploadFinal(ctx, r, "the DataUpload to end", timeout+k.Props.TimeoutCheckInterval+time.Minute)
	if err != nil {
		return err
	}
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseCanceled {
		return fmt.Errorf("DataUpload %s ended %s %q, want Canceled: its backupPod failed before it ran\n%s", du.Name, du.Status.Phase, du.Status.Message, k.describe(ctx, r))
	}
	// Velero cancels from either of two places, each with its own words around the pod's state:
	// the pod watch ("Cancel dataupload because the exposing pod <ns>/<pod> is in abnormal status
	// for reason <state>") or the reconciler's peek ("found a du <ns>/<du> with expose error:
	// <state>. mark it as cancel"). Both name the pod (its name is the DataUpload's).
	state := fmt.Sprintf("Pod is in abnormal state [Failed], message [%s/%s/]", lane.UnrecoverablePodMessage, lane.UnrecoverableContainerMessage)
	if !strings.Contains(du.Status.Message, state) || !strings.Contains(du.Status.Message, "/"+du.Name) {
		return fmt.Errorf("DataUpload %s Canceled with message %q: want the backupPod's name and its state as Velero words it: %q", du.Name, du.Status.Message, state)
	}
	if phases := k.Obs.Phases(r.DataUpload); slices.Contains(phases, velerov2alpha1.DataUploadPhasePrepared) || slices.Contains(phases, velerov2alpha1.DataUploadPhaseInProgress) {
		return fmt.Errorf("DataUpload %s went through %v: its backupPod never ran", du.Name, phases)
	}
	if v, ok := du.Labels[ExposeOnGoingLabel]; ok {
		return fmt.Errorf("DataUpload %s Canceled with the label %s=%s still there", du.Name, ExposeOnGoingLabel, v)
	}
	// Canceled, not Failed at the prepare timeout: D3, not D4. It must also come before the timeout
	// was due at the latest (D4: checked every TimeoutCheckInterval); later, the system's timeout
	// did not fire. Not before the timeout itself: a system that reconciles its DataUploads one at
	// a time (Velero) reaches the cancel after the exposes queued before it, which passed a 10 s
	// timeout under load here (Canceled 10.9 s after acceptance, 6 s after its pod failed).
	waited := endSeen.Sub(du.Status.AcceptedTimestamp.Time)
	if latest := timeout + k.Props.TimeoutCheckInterval; waited >= latest {
		return fmt.Errorf("DataUpload %s Canceled %v after it was accepted: not before its %v prepare timeout, checked every %v, was due (%v), though its backupPod had failed",
			du.Name, waited.Round(time.Millisecond), timeout, k.Props.TimeoutCheckInterval, latest)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("backupPod %s Failed before it ran; DataUpload Canceled %v after it was accepted: %q", du.Name, waited.Round(100*time.Millisecond), du.Status.Message))
	return k.expectBackup(ctx, r, velerov1.BackupPhasePartiallyFailed, 1)
}

// diagnosisMarker starts each line of the expose's diagnosis Velero logs at the prepare timeout;
// the diagnosis itself starts and ends with the lines below (D5).
const (
	diagnosisMarker = "[Diagnose DU expose]"
	diagnosisBegin  = diagnosisMarker + "begin diagnose CSI exposer"
	diagnosisEnd    = diagnosisMarker + "end diagnose CSI exposer"
)

// expectDiagnosis: the system logged its diagnosis of the timed-out expose, on lines naming the
// DataUpload: its begin and end lines and the backupPVC's state between (D5). A system whose logs
// cannot be read is not judged on it, and the evidence says so.
func (k *Checker) expectDiagnosis(ctx context.Context, r *Result) error {
	if k.Logs == nil {
		r.Evidence = append(r.Evidence, "the diagnosis not judged: the system's logs cannot be read")
		return nil
	}
	pvcLine := fmt.Sprintf("%sPVC %s/%s,", diagnosisMarker, k.Shared.VeleroNS, r.DataUpload)
	var missing []string
	// The system logs its diagnosis just after it fails the DataUpload (the reference some 50 ms
	// later), so the first look, made as the failure is seen, often misses it: looked for again
	// at every waitStep, not every 2 s, which each prepare-timeout spec waited out.
	err := wait.PollUntilContextTimeout(ctx, waitStep, 30*time.Second, true, func(context.Context) (bool, error) {
		var lines strings.Builder
		for _, f := range k.Logs() {
			lines.WriteString(grepFile(f, []string{diagnosisMarker}))
		}
		missing = nil
		for _, want := range []string{diagnosisBegin, pvcLine, diagnosisEnd} {
			if !slices.ContainsFunc(strings.Split(lines.String(), "\n"), func(l string) bool { return strings.Contains(l, want) && strings.Contains(l, r.DataUpload) }) {
				missing = append(missing, want)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("DataUpload %s timed out, and the system's logs (%s) have no line naming it with %q (D5: the expose's diagnosis)",
			r.DataUpload, strings.Join(k.Logs(), ", "), missing)
	}
	r.Evidence = append(r.Evidence, "the expose's diagnosis logged, from "+diagnosisBegin+" to "+diagnosisEnd)
	return nil
}
