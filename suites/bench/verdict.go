package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
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
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// WriteVerdict renders a conformance run's time to verdict from its JUnit report and the wall
// time make measured around it: bring-up, each spec, and the rest (teardown, report, builds).
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
	var bringUp float64
	type spec struct {
		name   string
		secs   float64
		status string
	}
	var specs []spec
	for _, c := range s.Cases {
		switch {
		case c.Name == "[SynchronizedBeforeSuite]":
			bringUp = max(bringUp, c.Time)
		case strings.HasPrefix(c.Name, "[It] "):
			specs = append(specs, spec{strings.TrimPrefix(c.Name, "[It] "), c.Time, c.Status})
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].secs > specs[j].secs })
	d := func(secs float64) string {
		return (time.Duration(secs * float64(time.Second))).Round(10 * time.Millisecond).String()
	}
	fmt.Fprintf(w, "## Time to verdict: make e2e on the local lane (%s)\n\n", Machine())
	fmt.Fprintf(w, "| part | time |\n|---|---|\n| make e2e, wall | %s |\n| lane bring-up and system under test start | %s |\n", wall.Round(10*time.Millisecond), d(bringUp))
	fmt.Fprintf(w, "| specs, in parallel (Ginkgo total minus bring-up) | %s |\n", d(s.Time-bringUp))
	fmt.Fprintf(w, "| teardown, report and builds (the rest) | %s |\n\n", (wall - time.Duration(s.Time*float64(time.Second))).Round(10*time.Millisecond))
	fmt.Fprintln(w, "| spec | time | verdict |\n|---|---|---|")
	for _, sp := range specs {
		fmt.Fprintf(w, "| %s | %s | %s |\n", strings.ReplaceAll(sp.name, "|", `\|`), d(sp.secs), sp.status)
	}
	return nil
}
