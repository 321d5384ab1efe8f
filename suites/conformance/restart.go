package conformance

import (
	"context"
	"fmt"
	"time"

	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// killAndRestart kills the system under test halfway to the DataUpload's prepare timeout and
// restarts it (D7). It returns the acceptedTimestamp the DataUpload had before the kill: a system
// that counts again from its restart, or accepts the DataUpload again, fires late or changes it.
func (k *Checker) killAndRestart(ctx context.Context, r *Result) (metav1.Time, error) {
	du := &velerov2alpha1.DataUpload{}
	if err := k.c().Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}, du); err != nil {
		return metav1.Time{}, err
	}
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseAccepted || du.Status.AcceptedTimestamp == nil {
		return metav1.Time{}, fmt.Errorf("DataUpload %s is %s (acceptedTimestamp %v) before the kill, want Accepted", du.Name, du.Status.Phase, du.Status.AcceptedTimestamp)
	}
	accepted := *du.Status.AcceptedTimestamp
	killAt := accepted.Add(killAfter(k.Profile.Timeouts.Prepare.Duration, k.latestTimeout()))
	select {
	case <-time.After(time.Until(killAt)):
	case <-ctx.Done():
		return accepted, ctx.Err()
	}
	start := time.Now()
	if err := k.Killer.Kill(ctx); err != nil {
		return accepted, err
	}
	if err := k.Killer.Restart(ctx); err != nil {
		return accepted, err
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("the system killed (SIGKILL) %v after acceptance, running again %v later",
		start.Sub(accepted.Time).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond)))
	// A count started again at the restart would fire a whole timeout after it: the judgement
	// tells it from a correct one only when that is past the latest a correct one may fire.
	if fromRestart, latest := time.Since(accepted.Time)+k.Profile.Timeouts.Prepare.Duration, k.latestTimeout(); fromRestart <= latest {
		r.Findings = append(r.Findings, fmt.Sprintf("the %v prepare timeout is too short for D7 with a %v check interval: a count from the restart would fire %v after acceptance, within the %v a correct one may take, so this pass does not tell them apart",
			k.Profile.Timeouts.Prepare.Duration, k.Props.TimeoutCheckInterval, fromRestart.Round(100*time.Millisecond), latest))
	}
	return accepted, nil
}

// killAfter is when after acceptance the restart spec kills the system, by design rather than on
// a condition: late enough that a count started again at the restart ends past latest (the
// latest a correct system may fire, plus 2 s), at least halfway, and 2 s before the timeout at the
// latest, so that the system is back before it is due.
func killAfter(timeout, latest time.Duration) time.Duration {
	const margin = 2 * time.Second
	return max(timeout/2, min(latest-timeout+margin, timeout-margin))
}

// expectAcceptedKept: the DataUpload ended with the acceptedTimestamp it had before the kill.
func (k *Checker) expectAcceptedKept(ctx context.Context, r *Result, before metav1.Time) error {
	du := &velerov2alpha1.DataUpload{}
	if err := k.c().Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}, du); err != nil {
		return err
	}
	if du.Status.AcceptedTimestamp == nil || !du.Status.AcceptedTimestamp.Equal(&before) {
		return fmt.Errorf("DataUpload %s: acceptedTimestamp %v after the restart, %v before it: the prepare timeout must count from the one persisted", du.Name, du.Status.AcceptedTimestamp, before)
	}
	return nil
}
