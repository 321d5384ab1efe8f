package chaos

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSummarizeAndMarkdown(t *testing.T) {
	recs := []RoundRecord{
		{Round: 1, Duration: 20 * time.Second, Right: 3, Lateness: []time.Duration{300 * time.Millisecond},
			Kills: []KillRecord{{Component: SUTComponent, At: time.Second}, {Component: "csi-driver", At: 2 * time.Second}}},
		{Round: 2, Duration: 30 * time.Second, Right: 2, Wrong: 1, Lateness: []time.Duration{100 * time.Millisecond, 2 * time.Second},
			Leftovers: []string{"Pod v/x"}, Problems: []string{"left behind: Pod v/x", "a | b"},
			Kills: []KillRecord{{Component: SUTComponent, At: time.Second}, {Component: "csi-driver", Error: "did not come back"}}},
	}
	s := Summarize(recs)
	if s.RoundsRun != 2 || s.Right != 5 || s.Wrong != 1 || s.Leaks != 1 || s.Timeouts != 3 {
		t.Errorf("summary %+v", s)
	}
	// A kill whose restart failed is not counted as a kill survived.
	if s.Kills[SUTComponent] != 2 || s.Kills["csi-driver"] != 1 {
		t.Errorf("kills %v, want sut 2, csi-driver 1", s.Kills)
	}
	if s.LatenessP50 != 300*time.Millisecond || s.LatenessMax != 2*time.Second || s.RoundMax != 30*time.Second || s.RoundP50 != 20*time.Second {
		t.Errorf("lateness p50 %v max %v, rounds p50 %v max %v", s.LatenessP50, s.LatenessMax, s.RoundP50, s.RoundMax)
	}
	rep := &Report{Seed: 7, Rounds: 2, Records: recs, Summary: s}
	if !rep.Failed() {
		t.Error("a run with a wrong outcome and a leak did not fail")
	}
	var b bytes.Buffer
	WriteMarkdown(&b, rep)
	for _, want := range []string{"(FAIL)", "Seed **7**", "CHAOS_SEED=7", "| 5 right, 1 wrong |", "p50 300ms, max 2s", "| leaks (objects left) | 1 |", `a \| b`, "sut@1.0s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, b.String())
		}
	}
	ok := &Report{Seed: 1, Rounds: 1, Records: recs[:1], Summary: Summarize(recs[:1])}
	if ok.Failed() {
		t.Error("a clean run failed")
	}
	if short := (&Report{Rounds: 2, Records: recs[:1], Summary: Summarize(recs[:1])}); !short.Failed() {
		t.Error("a run with a round not run passed")
	}
}
