package report

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// WriteDifferential renders the verdicts of one run per system under test and lane, with the same
// driver, as one table, spec by system (named with its lane when the runs span lanes). Where they disagree (different verdicts, a spec one of
// them did not run) is listed first, as findings; then each system's own findings; then the table.
func WriteDifferential(w io.Writer, runs []Results) error {
	if len(runs) < 2 {
		return fmt.Errorf("report: a differential table needs the results of two systems under test or more, got %d", len(runs))
	}
	var b strings.Builder
	names := make([]string, len(runs))
	bySUT := make([]map[string]SpecResult, len(runs))
	var specs []string
	var lanes []string
	for _, r := range runs {
		if !slices.Contains(lanes, r.Lane) {
			lanes = append(lanes, r.Lane)
		}
	}
	for i, r := range runs {
		names[i] = r.SUT
		if len(lanes) > 1 {
			names[i] = r.SUT + " on " + r.Lane
		}
		bySUT[i] = map[string]SpecResult{}
		for _, s := range r.Specs {
			bySUT[i][s.Name] = s
			if !slices.Contains(specs, s.Name) {
				specs = append(specs, s.Name)
			}
		}
	}
	slices.Sort(specs)

	var disagreements, differences []string
	for _, spec := range specs {
		verdicts := make([]string, len(runs))
		for i := range runs {
			verdicts[i] = verdictOf(bySUT[i], spec)
		}
		if len(slices.Compact(slices.Clone(verdicts))) == 1 {
			if d := evidenceDifference(runs, names, bySUT, spec); d != "" {
				differences = append(differences, d)
			}
			continue
		}
		var parts []string
		for i := range runs {
			s, ok := bySUT[i][spec]
			detail := verdicts[i]
			if ok && s.Reason != "" {
				detail += ": " + s.Reason
			}
			parts = append(parts, fmt.Sprintf("%s %s", names[i], detail))
		}
		disagreements = append(disagreements, fmt.Sprintf("- **%s**: %s", spec, strings.Join(parts, "; ")))
	}

	fmt.Fprintf(&b, "# Differential conformance: %s\n\n", strings.Join(names, " vs "))
	fmt.Fprintf(&b, "Each system under test ran the same suites on the %s lane%s with the %s driver.\n\n", strings.Join(lanes, " and "),
		map[bool]string{true: "s", false: ""}[len(lanes) > 1], runs[0].Driver)
	b.WriteString("| system under test | result | duration |\n|---|---|---|\n")
	for i, r := range runs {
		p, f, s := r.Counts()
		who := names[i]
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
	if len(differences) > 0 {
		fmt.Fprintf(&b, "\n## Same verdict, different evidence (%d)\n\nRun-specific names, sizes and durations left out.\n\n%s\n", len(differences), strings.Join(differences, "\n"))
	}
	for i, r := range runs {
		if findings := groupedFindings(r); len(findings) > 0 {
			fmt.Fprintf(&b, "\n## Findings: %s\n\n%s\n", names[i], strings.Join(findings, "\n"))
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

// evidenceDifference says how the evidence of one spec differs between the systems once what
// differs from run to run anyway is left out; "" when it does not.
func evidenceDifference(runs []Results, names []string, bySUT []map[string]SpecResult, spec string) string {
	var parts, seen []string
	for i, r := range runs {
		e := r.normalize(strings.Join(bySUT[i][spec].Evidence, "; "))
		seen = append(seen, e)
		parts = append(parts, fmt.Sprintf("%s: %s", names[i], e))
	}
	if len(slices.Compact(seen)) == 1 {
		return ""
	}
	return fmt.Sprintf("- **%s**: %s", spec, strings.Join(parts, " / "))
}

// groupedFindings lists a run's findings, the same finding of several specs once.
func groupedFindings(r Results) []string {
	var order []string
	specsOf := map[string][]string{}
	for _, s := range r.Specs {
		for _, f := range s.Findings {
			n := r.normalize(f)
			if _, ok := specsOf[n]; !ok {
				order = append(order, n)
			}
			specsOf[n] = append(specsOf[n], s.Name)
		}
	}
	var out []string
	for _, n := range order {
		out = append(out, fmt.Sprintf("- %s (%d specs: %s)", n, len(specsOf[n]), strings.Join(specsOf[n], "; ")))
	}
	return out
}

// runSpecific matches what differs between two runs of the same behaviour: generated object
// names (PV UIDs, DataUpload names with their random suffixes), durations and byte counts.
var runSpecific = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "pvc-<uid>"},
	{regexp.MustCompile(`\b[a-z0-9-]+-\d+-[0-9a-f]{6}-[0-9a-z]{5,8}\b`), "<dataupload>"},
	{regexp.MustCompile(`\b\d+m\d+(\.\d+)?s\b|\b\d+(\.\d+)?(ms|s|m)\b`), "<duration>"},
	{regexp.MustCompile(`\(and \d+ more`), "(and <n> more"},
	// A text cut at a fixed length ends in a part of a word that depends on the names before it.
	{regexp.MustCompile(`\S*\.\.\.`), "..."},
}

// normalize is Normalize, then the run's ID left out too (after: a DataUpload's name holds it).
func (r Results) normalize(s string) string {
	s = Normalize(s)
	if r.RunID != "" {
		s = strings.ReplaceAll(s, r.RunID, "<run>")
	}
	return s
}

// Normalize leaves out of an evidence or finding text what differs from run to run.
func Normalize(s string) string {
	for _, r := range runSpecific {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
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
