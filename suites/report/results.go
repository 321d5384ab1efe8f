package report

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Results is one run's verdicts in a form other tools read (results.json beside the report): the
// differential table is made from the Results of one run per system under test.
type Results struct {
	SUT string `json:"sut"`
	// RunID is in the names of the run's objects (left out when runs are compared).
	RunID          string        `json:"runID"`
	SUTDescription string        `json:"sutDescription"`
	Lane           string        `json:"lane"`
	Driver         string        `json:"driver"`
	Started        time.Time     `json:"started"`
	Duration       time.Duration `json:"duration"`
	Specs          []SpecResult  `json:"specs"`
}

// SpecResult is one spec's verdict and what it saw.
type SpecResult struct {
	Name     string        `json:"name"`
	Labels   []string      `json:"labels,omitempty"`
	Verdict  string        `json:"verdict"` // passed, failed or skipped
	Reason   string        `json:"reason,omitempty"`
	Evidence []string      `json:"evidence,omitempty"`
	Findings []string      `json:"findings,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Counts are the run's passed, failed and skipped specs.
func (r Results) Counts() (passed, failed, skipped int) {
	for _, s := range r.Specs {
		switch s.Verdict {
		case "passed":
			passed++
		case "skipped":
			skipped++
		default:
			failed++
		}
	}
	return
}

// ResultsOf extracts Results from a Ginkgo report.
func ResultsOf(r types.Report, info Info) Results {
	out := Results{SUT: info.SUTName, RunID: info.RunID, SUTDescription: info.SUT, Lane: info.Lane, Driver: info.Driver, Started: r.StartTime, Duration: r.RunTime}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		sr := SpecResult{Name: s.FullText(), Labels: s.Labels(), Duration: s.RunTime}
		switch {
		case s.State.Is(types.SpecStatePassed):
			sr.Verdict = "passed"
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			sr.Verdict, sr.Reason = "skipped", firstLine(s.Failure.Message)
		default:
			sr.Verdict, sr.Reason = "failed", firstLine(s.Failure.Message)
		}
		for _, e := range s.ReportEntries {
			switch e.Name {
			case "evidence":
				sr.Evidence = append(sr.Evidence, e.StringRepresentation())
			case "finding":
				sr.Findings = append(sr.Findings, e.StringRepresentation())
			}
		}
		out.Specs = append(out.Specs, sr)
	}
	sort.SliceStable(out.Specs, func(i, j int) bool { return out.Specs[i].Name < out.Specs[j].Name })
	return out
}

// WriteResults writes the run's Results as JSON to path.
func WriteResults(path string, r types.Report, info Info) error {
	data, err := json.MarshalIndent(ResultsOf(r, info), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadResults reads a results.json.
func ReadResults(path string) (Results, error) {
	var r Results
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("report: %s: %w", path, err)
	}
	if r.SUT == "" {
		return r, fmt.Errorf("report: %s names no system under test", path)
	}
	return r, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
