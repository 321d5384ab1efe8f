package chaos

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is a run: its seed (the same seed replays the same kills), plan, records and summary.
type Report struct {
	Seed           int64             `json:"seed"`
	Rounds         int               `json:"rounds"`
	LaneName       string            `json:"laneName"`
	PrepareTimeout time.Duration     `json:"prepareTimeout"`
	CheckInterval  time.Duration     `json:"checkInterval"`
	Margin         time.Duration     `json:"margin"`
	Versions       map[string]string `json:"versions"`
	Started        time.Time         `json:"started"`
	Wall           time.Duration     `json:"wall"`
	Plan           []RoundPlan       `json:"plan"`
	Records        []RoundRecord     `json:"records"`
	Summary        Summary           `json:"summary"`
	// Error is what cut the run short ("" when every round ran).
	Error string `json:"error,omitempty"`
}

// Summary is the run's numbers.
type Summary struct {
	RoundsRun int            `json:"roundsRun"`
	Kills     map[string]int `json:"kills"`
	// Exited counts the components' own exits, each followed by a restart.
	Exited map[string]int `json:"exitedAndRestarted"`
	// Right and Wrong count Backups (with their DataUploads) that did and did not reach the
	// expected outcome.
	Right int `json:"right"`
	Wrong int `json:"wrong"`
	// Interrupted are the right ones whose expose a kill of the system cut short: they ended at
	// the prepare timeout instead of Completed (see Check).
	Interrupted int `json:"interruptedExposes"`
	// Lateness of the timed-out DataUploads' failures after acceptedTimestamp + timeout.
	Timeouts    int           `json:"timeouts"`
	LatenessMax time.Duration `json:"latenessMax"`
	LatenessP50 time.Duration `json:"latenessP50"`
	Leaks       int           `json:"leaks"`
	RoundP50    time.Duration `json:"roundP50"`
	RoundMax    time.Duration `json:"roundMax"`
}

// Failed says whether the run must fail: a wrong outcome, a leak, or a round not run.
func (r *Report) Failed() bool {
	return r.Error != "" || r.Summary.Wrong > 0 || r.Summary.Leaks > 0 || r.Summary.RoundsRun < r.Rounds
}

// Summarize counts the records.
func Summarize(recs []RoundRecord) Summary {
	s := Summary{RoundsRun: len(recs), Kills: map[string]int{}, Exited: map[string]int{}}
	var late, rounds []time.Duration
	for _, r := range recs {
		for _, k := range r.Kills {
			if k.Error == "" {
				s.Kills[k.Component]++
			}
		}
		for _, c := range r.Exited {
			s.Exited[c]++
		}
		s.Right += r.Right
		s.Interrupted += r.Interrupted
		s.Wrong += r.Wrong
		s.Leaks += len(r.Leftovers)
		late = append(late, r.Lateness...)
		rounds = append(rounds, r.Duration)
	}
	s.Timeouts = len(late)
	s.LatenessP50, s.LatenessMax = Percentile(late, 50), Percentile(late, 100)
	s.RoundP50, s.RoundMax = Percentile(rounds, 50), Percentile(rounds, 100)
	return s
}

// Percentile is the p-th percentile (nearest rank) of ds, 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// WriteMarkdown writes the report for people.
func WriteMarkdown(w io.Writer, r *Report) {
	s := r.Summary
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "# make chaos: crash safety of the reference (%s)\n\n", verdict)
	fmt.Fprintf(w, "Seed **%d** (replay: `make chaos CHAOS_SEED=%d CHAOS_ROUNDS=%d`), %d of %d rounds run, lane %s, prepare timeout %v, "+
		"timeout check interval %v, lateness allowed %v + %v, wall %v.\n\n",
		r.Seed, r.Seed, r.Rounds, s.RoundsRun, r.Rounds, r.LaneName, r.PrepareTimeout, r.CheckInterval, r.CheckInterval, r.Margin, r.Wall.Round(time.Second))
	if r.Error != "" {
		fmt.Fprintf(w, "**The run stopped:** %s\n\n", r.Error)
	}
	fmt.Fprintf(w, "| measure | value |\n|---|---|\n")
	comps := slices.Sorted(maps.Keys(s.Kills))
	var kills []string
	for _, c := range comps {
		kills = append(kills, fmt.Sprintf("%s %d", c, s.Kills[c]))
	}
	fmt.Fprintf(w, "| kills (SIGKILL, then restart) | %s |\n", strings.Join(kills, ", "))
	var exited []string
	for _, c := range slices.Sorted(maps.Keys(s.Exited)) {
		exited = append(exited, fmt.Sprintf("%s %d", c, s.Exited[c]))
	}
	if len(exited) == 0 {
		exited = []string{"none"}
	}
	fmt.Fprintf(w, "| exits on their own, restarted by the watchdog (a sidecar loses its driver's connection) | %s |\n", strings.Join(exited, ", "))
	fmt.Fprintf(w, "| backups with the expected outcome | %d right, %d wrong |\n", s.Right, s.Wrong)
	fmt.Fprintf(w, "| of the right ones: exposes cut short by the system's kill, failed at the prepare timeout as Velero does (D7) | %d |\n", s.Interrupted)
	fmt.Fprintf(w, "| prepare timeouts: lateness after acceptedTimestamp + %v | %d measured, p50 %v, max %v |\n",
		r.PrepareTimeout, s.Timeouts, s.LatenessP50.Round(time.Millisecond), s.LatenessMax.Round(time.Millisecond))
	fmt.Fprintf(w, "| leaks (objects left) | %d |\n", s.Leaks)
	fmt.Fprintf(w, "| time per round | p50 %v, max %v |\n\n", s.RoundP50.Round(100*time.Millisecond), s.RoundMax.Round(100*time.Millisecond))
	fmt.Fprintf(w, "| round | duration | kills (component@moment after the Backups' creation) | right | wrong | timeout lateness | problems |\n|---|---|---|---|---|---|---|\n")
	for _, rec := range r.Records {
		var ks []string
		for _, k := range rec.Kills {
			ks = append(ks, fmt.Sprintf("%s@%.1fs", k.Component, k.At.Seconds()))
		}
		var late []string
		for _, l := range rec.Lateness {
			late = append(late, l.Round(time.Millisecond).String())
		}
		fmt.Fprintf(w, "| %d | %v | %s | %d | %d | %s | %s |\n", rec.Round, rec.Duration.Round(100*time.Millisecond), strings.Join(ks, " "),
			rec.Right, rec.Wrong, strings.Join(late, " "), strings.ReplaceAll(strings.Join(rec.Problems, "; "), "|", "\\|"))
	}
	if len(r.Versions) > 0 {
		fmt.Fprintf(w, "\nComponents: ")
		keys := slices.Collect(maps.Keys(r.Versions))
		sort.Strings(keys)
		var vs []string
		for _, k := range keys {
			vs = append(vs, k+" "+r.Versions[k])
		}
		fmt.Fprintf(w, "%s.\n", strings.Join(vs, "; "))
	}
}
