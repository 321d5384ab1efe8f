package chaos

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// SUTComponent names the system under test in a plan and the report (the lane's components go by
// their process names).
const SUTComponent = "sut"

// LaneComponents are the local lane's processes a round kills once each: the CSI sidecars and the
// emulator (the lane names its driver process csi-driver).
var LaneComponents = []string{"csi-provisioner", "csi-snapshotter", "snapshot-controller", "csi-driver"}

// Kill is one planned crash: component, At after the round's Backups are created.
type Kill struct {
	Component string        `json:"component"`
	At        time.Duration `json:"at"`
}

// RoundPlan is what one round does to the lane.
type RoundPlan struct {
	Round int `json:"round"`
	// Kills in the order of At.
	Kills []Kill `json:"kills"`
}

// Plan draws the kills of rounds rounds from seed: per round the system under test once, and each
// of components (none: the system under test only) once, each at a moment uniform in [0, window).
// The same seed gives the same plan, so a failing run can be replayed with its seed.
func Plan(seed int64, rounds int, window time.Duration, components []string) []RoundPlan {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	plans := make([]RoundPlan, 0, rounds)
	for i := range rounds {
		p := RoundPlan{Round: i + 1}
		for _, c := range append([]string{SUTComponent}, components...) {
			// Milliseconds: a plan printed in the report reads the same as the one run.
			p.Kills = append(p.Kills, Kill{Component: c, At: time.Duration(rng.Int64N(window.Milliseconds())) * time.Millisecond})
		}
		slices.SortStableFunc(p.Kills, func(a, b Kill) int { return cmp.Compare(a.At, b.At) })
		plans = append(plans, p)
	}
	return plans
}
