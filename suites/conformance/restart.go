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
	// The kill's moment is the spec's design, not a wait for a condition: halfway, so that a
	// count started again at the restart ends well past the latest a correct one may.
	killAt := accepted.Add(k.Profile.Timeouts.Prepare.Duration / 2)
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
	return accepted, nil
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
