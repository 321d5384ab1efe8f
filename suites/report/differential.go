package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WriteDifferential renders the verdicts of one run per system under test, on the same lane and
// driver, as one table, spec by system. Where they disagree (different verdicts, a spec one of
// them did not run) is listed first, as findings; then each system's own findings; then the table.
func WriteDifferential(w io.Writer, runs []Results) error {
	if len(runs) < 2 {
		return fmt.Errorf("report: a differential table needs the results of two systems under test or more, got %d", len(runs))
	}
	var b strings.Builder
	names := make([]string, len(runs))
	bySUT := make([]map[string]SpecResult, len(runs))
	var specs []string
	for i, r := range runs {
		names[i] = r.SUT
		bySUT[i] = map[string]SpecResult{}
		for _, s := range r.Specs {
			bySUT[i][s.Name] = s
			if !slices.Contains(specs, s.Name) {
				specs = append(specs, s.Name)
			}
		}
	}
	slices.Sort(specs)

	var disagreements []string
	for _, spec := range specs {
		verdicts := make([]string, len(runs))
		for i := range runs {
			verdicts[i] = verdictOf(bySUT[i], spec)
		}
		if len(slices.Compact(slices.Clone(verdicts))) == 1 {
			continue
		}
		var parts []string
		for i, r := range runs {
			s, ok := bySUT[i][spec]
			detail := verdicts[i]
			if ok && s.Reason != "" {
				detail += ": " + s.Reason
			}
			parts = append(parts, fmt.Sprintf("%s %s", r.SUT, detail))
		}
		disagreements = append(disagreements, fmt.Sprintf("- **%s**: %s", spec, strings.Join(parts, "; ")))
	}

	fmt.Fprintf(&b, "# Differential conformance: %s\n\n", strings.Join(names, " vs "))
	fmt.Fprintf(&b, "Each system under test ran the same suites on the %s lane with the %s driver.\n\n", runs[0].Lane, runs[0].Driver)
	b.WriteString("| system under test | result | duration |\n|---|---|---|\n")
	for _, r := range runs {
		p, f, s := r.Counts()
		who := r.SUT
		if r.SUTDescription != "" {
			who += ": " + cell(r.SUTDescription)
		}
		fmt.Fprintf(&b, "| %s | %d passed, %d failed, %d skipped | %s |\n", who, p, f, s, r.Duration.Round(time.Millisecond))
	}
	if len(disagreements) == 0 {
		b.WriteString("\n## Disagreements\n\nNone: every spec has the same verdict for every system under test.\n")
	} else {
		fmt.Fprintf(&b, "\n## Disagreements (%d)\n\n%s\n", len(disagreements), strings.Join(disagreements, "\n"))
	}
	for _, r := range runs {
		var findings []string
		for _, s := range r.Specs {
			for _, f := range s.Findings {
				findings = append(findings, fmt.Sprintf("- **%s**: %s", s.Name, f))
			}
		}
		if len(findings) > 0 {
			fmt.Fprintf(&b, "\n## Findings: %s\n\n%s\n", r.SUT, strings.Join(findings, "\n"))
		}
	}
	b.WriteString("\n## Verdicts\n\n| spec | " + strings.Join(names, " | ") + " |\n|---" + strings.Repeat("|---", len(runs)) + "|\n")
	for _, spec := range specs {
		row := []string{cell(spec)}
		for i := range runs {
			row = append(row, cellFor(bySUT[i], spec))
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdictOf(specs map[string]SpecResult, name string) string {
	if s, ok := specs[name]; ok {
		return s.Verdict
	}
	return "not run"
}

// cellFor is a table cell: the verdict, and the evidence (passed) or the reason (otherwise).
func cellFor(specs map[string]SpecResult, name string) string {
	s, ok := specs[name]
	if !ok {
		return "not run"
	}
	detail := s.Reason
	if s.Verdict == "passed" {
		detail = strings.Join(s.Evidence, "; ")
	}
	if len(detail) > 200 {
		detail = detail[:200] + "..."
	}
	word := map[string]string{"passed": "PASS", "failed": "**FAIL**", "skipped": "SKIP"}[s.Verdict]
	if detail == "" {
		return word
	}
	return word + ": " + cell(detail)
}
