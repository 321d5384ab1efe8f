package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

type junitSuites struct {
	Suites []struct {
		Time  float64 `xml:"time,attr"`
		Cases []struct {
			Name   string  `xml:"name,attr"`
			Time   float64 `xml:"time,attr"`
			Status string  `xml:"status,attr"`
			Output string  `xml:"system-err"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

var (
	// laneReady and sutReady are the times the suites log for the lane's bring-up and the system's
	// start, in the first process's SynchronizedBeforeSuite.
	laneReady = regexp.MustCompile(`"msg"="local lane ready" .*?"took"="([^"]+)"`)
	sutReady  = regexp.MustCompile(`"msg"="system under test ready" .*?"took"="([^"]+)"`)
	// nodeExit is Ginkgo's line at a node's end, with how long it ran.
	nodeExit = regexp.MustCompile(`< Exit \[SynchronizedAfterSuite\] .*\(([^)]+)\)`)
)

// VerdictRun is one conformance run: its JUnit report, the wall time make measured around it and,
// when measured, the machine's speed just before it (Calibrate; 0: not measured).
type VerdictRun struct {
	JUnit       string
	Wall        time.Duration
	Calibration time.Duration
}

// verdictSpec is one spec's time and status in a run.
type verdictSpec struct {
	name, status string
	took         time.Duration
}

// verdictParts is a run's time to verdict split: the lane's bring-up and the system's start (or,
// when the suites did not log them, both together in bringUp), the specs, the teardown, the rest.
type verdictParts struct {
	calibration, wall, bringUp, lane, start, specsTook, teardown, rest time.Duration
	specs                                                              []verdictSpec
}

// readVerdict splits a run from its JUnit report: the lane's bring-up, the system's start, the
// specs, the teardown (the first process's SynchronizedAfterSuite: the leftover checks, the system
// stopped, the lane down; without the time it waited there for the other processes), the rest
// (builds, the report), then each spec, slowest first.
func readVerdict(run VerdictRun) (verdictParts, error) {
	data, err := os.ReadFile(run.JUnit)
	if err != nil {
		return verdictParts{}, fmt.Errorf("bench: %w", err)
	}
	var js junitSuites
	if err := xml.Unmarshal(data, &js); err != nil || len(js.Suites) == 0 {
		return verdictParts{}, fmt.Errorf("bench: %s is not a Ginkgo JUnit report: %v", run.JUnit, err)
	}
	s := js.Suites[0]
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	v := verdictParts{calibration: run.Calibration, wall: run.Wall}
	for _, c := range s.Cases {
		switch {
		case c.Name == "[SynchronizedBeforeSuite]":
			v.bringUp = max(v.bringUp, sec(c.Time))
			v.lane = max(v.lane, logged(laneReady, c.Output))
			v.start = max(v.start, logged(sutReady, c.Output))
		case c.Name == "[SynchronizedAfterSuite]":
			for _, m := range nodeExit.FindAllStringSubmatch(c.Output, -1) {
				if d, err := time.ParseDuration(m[1]); err == nil {
					v.teardown = max(v.teardown, d)
				}
			}
		case strings.HasPrefix(c.Name, "[It] "):
			v.specs = append(v.specs, verdictSpec{strings.TrimPrefix(c.Name, "[It] "), c.Status, sec(c.Time)})
		}
	}
	if v.lane == 0 || v.start == 0 {
		v.lane, v.start = 0, 0
	}
	v.specsTook = sec(s.Time) - v.bringUp - v.teardown
	v.rest = run.Wall - sec(s.Time)
	sort.Slice(v.specs, func(i, j int) bool { return v.specs[i].took > v.specs[j].took })
	return v, nil
}

// WriteVerdict renders the time to verdict of one or more conformance runs of the same code: each
// part of each run and its median (nearest rank), then each spec of the run of median wall time.
// One run says little on a machine whose speed drifts, hence several.
func WriteVerdict(w io.Writer, runs []VerdictRun) error {
	if len(runs) == 0 {
		return fmt.Errorf("bench: no conformance run to report")
	}
	parts := make([]verdictParts, len(runs))
	for i, run := range runs {
		v, err := readVerdict(run)
		if err != nil {
			return err
		}
		parts[i] = v
	}
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	runsSaid := fmt.Sprintf("%d runs", len(runs))
	if len(runs) == 1 {
		runsSaid = "1 run"
	}
	fmt.Fprintf(w, "## Time to verdict: make e2e on the local lane (%s, %s)\n\n| part |", Machine(), runsSaid)
	for i := range runs {
		fmt.Fprintf(w, " run %d |", i+1)
	}
	fmt.Fprintf(w, " median |\n|---|%s\n", strings.Repeat("---|", len(runs)+1))
	row := func(name string, of func(verdictParts) time.Duration) {
		fmt.Fprintf(w, "| %s |", name)
		ds := make([]time.Duration, len(parts))
		for i, v := range parts {
			ds[i] = of(v)
			fmt.Fprintf(w, " %s |", r(ds[i]))
		}
		fmt.Fprintf(w, " %s |\n", r(Percentile(ds, 50)))
	}
	if !slices.ContainsFunc(runs, func(r VerdictRun) bool { return r.Calibration == 0 }) {
		calibration := func(v verdictParts) time.Duration { return v.calibration }
		row("the machine's speed just before: bench --calibrate, a fixed workload (lower: faster)", calibration)
	}
	row("make e2e, wall", func(v verdictParts) time.Duration { return v.wall })
	if !slices.ContainsFunc(parts, func(v verdictParts) bool { return v.lane == 0 }) {
		row("lane bring-up", func(v verdictParts) time.Duration { return v.lane })
		row("system under test start", func(v verdictParts) time.Duration { return v.start })
	} else {
		row("lane bring-up and system under test start", func(v verdictParts) time.Duration { return v.bringUp })
	}
	row("specs, in parallel", func(v verdictParts) time.Duration { return v.specsTook })
	row("teardown: leftover checks, system stopped, lane down", func(v verdictParts) time.Duration { return v.teardown })
	row("the rest: builds, processes, report", func(v verdictParts) time.Duration { return v.rest })

	// The run of median wall time (nearest rank: the lower middle of an even count).
	walls := make([]time.Duration, len(parts))
	for i, v := range parts {
		walls[i] = v.wall
	}
	mid := slices.Index(walls, Percentile(walls, 50))
	fmt.Fprintf(w, "\nEach spec in run %d (the median wall time):\n\n| spec | time | verdict |\n|---|---|---|\n", mid+1)
	for _, sp := range parts[mid].specs {
		fmt.Fprintf(w, "| %s | %s | %s |\n", strings.ReplaceAll(sp.name, "|", `\|`), r(sp.took), sp.status)
	}
	return nil
}

// logged is the duration re's first group finds in out (0 when it finds none).
func logged(re *regexp.Regexp, out string) time.Duration {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	d, _ := time.ParseDuration(m[1])
	return d
}
