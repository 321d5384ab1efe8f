package conformance

import (
	"testing"
	"time"
)

// The kill's moment decides whether the restart spec can tell a count from the restart (the
// d7-count-from-restart negative control) from a correct one: a count from the restart fires
// killAfter + restart + timeout after acceptance, and must be past latest.
func TestKillAfter(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name                  string
		timeout, latest, want time.Duration
	}{
		{"local lane, reference, 10 s: past halfway, so a count from the restart ends past latest", 10 * s, 15*s + 250*time.Millisecond, 7*s + 250*time.Millisecond},
		{"local lane, reference, 20 s: halfway is late enough", 20 * s, 25*s + 250*time.Millisecond, 10 * s},
		{"kind lane, reference, 60 s: halfway", 60 * s, 65*s + 250*time.Millisecond, 30 * s},
		{"Velero, one-minute check: 2 s before the timeout, the latest it may be", 10 * s, 75 * s, 8 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := killAfter(tc.timeout, tc.latest); got != tc.want {
				t.Errorf("killAfter(%v, %v) = %v, want %v", tc.timeout, tc.latest, got, tc.want)
			}
		})
	}
}
