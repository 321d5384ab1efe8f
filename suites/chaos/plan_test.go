package chaos

import (
	"cmp"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	window := 15 * time.Second
	a := Plan(42, 30, window, LaneComponents)
	// The seed is the replay: the same seed, the same kills.
	if b := Plan(42, 30, window, LaneComponents); !reflect.DeepEqual(a, b) {
		t.Fatal("two plans from seed 42 differ")
	}
	if c := Plan(43, 30, window, LaneComponents); reflect.DeepEqual(a, c) {
		t.Error("seeds 42 and 43 gave the same plan")
	}
	if len(a) != 30 {
		t.Fatalf("%d rounds, want 30", len(a))
	}
	moments := map[time.Duration]bool{}
	for i, p := range a {
		if p.Round != i+1 {
			t.Errorf("round %d numbered %d", i+1, p.Round)
		}
		var names []string
		for _, k := range p.Kills {
			names = append(names, k.Component)
			if k.At < 0 || k.At >= window {
				t.Errorf("round %d: %s at %v, outside [0, %v)", p.Round, k.Component, k.At, window)
			}
			moments[k.At] = true
		}
		slices.Sort(names)
		want := slices.Sorted(slices.Values(append([]string{SUTComponent}, LaneComponents...)))
		if !slices.Equal(names, want) {
			t.Errorf("round %d kills %v, want each of %v once", p.Round, names, want)
		}
		if !slices.IsSortedFunc(p.Kills, func(x, y Kill) int { return cmp.Compare(x.At, y.At) }) {
			t.Errorf("round %d kills not in time order: %v", p.Round, p.Kills)
		}
	}
	// 150 moments drawn from 15000 ms: a generator stuck on a few values would show here.
	if len(moments) < 100 {
		t.Errorf("only %d distinct kill moments in 150", len(moments))
	}
	if only := Plan(1, 2, window, nil); len(only[0].Kills) != 1 || only[0].Kills[0].Component != SUTComponent {
		t.Errorf("a plan without lane components kills %v, want the system under test only", only[0].Kills)
	}
}
