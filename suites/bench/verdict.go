package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"regexp"
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

// WriteVerdict renders a conformance run's time to verdict from its JUnit report and the wall
// time make measured around it: the lane's bring-up, the system's start, the specs, the teardown
// (the first process's SynchronizedAfterSuite: the leftover checks, the system stopped, the lane
// down; without the time it waited there for the other processes), the rest (builds, the report),
// then each spec.
func WriteVerdict(w io.Writer, junitPath string, wall time.Duration) error {
	data, err := os.ReadFile(junitPath)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var js junitSuites
	if err := xml.Unmarshal(data, &js); err != nil || len(js.Suites) == 0 {
		return fmt.Errorf("bench: %s is not a Ginkgo JUnit report: %v", junitPath, err)
	}
	s := js.Suites[0]
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	var bringUp, lane, start, teardown time.Duration
	type spec struct {
		name   string
		took   time.Duration
		status string
	}
	var specs []spec
	for _, c := range s.Cases {
		switch {
		case c.Name == "[SynchronizedBeforeSuite]":
			bringUp = max(bringUp, sec(c.Time))
			lane = max(lane, logged(laneReady, c.Output))
			start = max(start, logged(sutReady, c.Output))
		case c.Name == "[SynchronizedAfterSuite]":
			for _, m := range nodeExit.FindAllStringSubmatch(c.Output, -1) {
				if d, err := time.ParseDuration(m[1]); err == nil {
					teardown = max(teardown, d)
				}
			}
		case strings.HasPrefix(c.Name, "[It] "):
			specs = append(specs, spec{strings.TrimPrefix(c.Name, "[It] "), sec(c.Time), c.Status})
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].took > specs[j].took })
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	fmt.Fprintf(w, "## Time to verdict: make e2e on the local lane (%s)\n\n", Machine())
	fmt.Fprintf(w, "| part | time |\n|---|---|\n| make e2e, wall | %s |\n", r(wall))
	if lane > 0 && start > 0 {
		fmt.Fprintf(w, "| lane bring-up | %s |\n| system under test start | %s |\n", r(lane), r(start))
	} else {
		fmt.Fprintf(w, "| lane bring-up and system under test start | %s |\n", r(bringUp))
	}
	fmt.Fprintf(w, "| specs, in parallel | %s |\n", r(sec(s.Time)-bringUp-teardown))
	fmt.Fprintf(w, "| teardown: leftover checks, system stopped, lane down | %s |\n", r(teardown))
	fmt.Fprintf(w, "| the rest: builds, processes, report | %s |\n\n", r(wall-sec(s.Time)))
	fmt.Fprintln(w, "| spec | time | verdict |\n|---|---|---|")
	for _, sp := range specs {
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
