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
// driver, as one table, spec by system (named with its lane when the runs span lanes). Where the
// systems disagree on one lane (different verdicts, a spec one of them did not run) is listed
// first, as findings, then, for a system run on several lanes, where its verdicts differ between
// them; then each system's own findings; then the table.
func WriteDifferential(w io.Writer, runs []Results) error {
	if len(runs) < 2 {
		return fmt.Errorf("report: a differential table needs the results of two systems under test or more, got %d", len(runs))
	}
	var b strings.Builder
	names := make([]string, len(runs))
	bySUT := make([]map[string]SpecResult, len(runs))
	var specs, lanes, suts []string
	for _, r := range runs {
		if !slices.Contains(lanes, r.Lane) {
			lanes = append(lanes, r.Lane)
		}
		if !slices.Contains(suts, r.SUT) {
			suts = append(suts, r.SUT)
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
	d := differ{runs: runs, names: names, bySUT: bySUT, specs: specs}
	// Systems compared on one lane: verdicts and evidence; one system across lanes: verdicts only
	// (the evidence of a lane with a data path differs from one without by design).
	type section struct {
		title                      string
		disagreements, differences []string
	}
	var sections []section
	for _, lane := range lanes {
		idx := d.where(func(r Results) bool { return r.Lane == lane })
		if len(idx) < 2 {
			continue
		}
		title := "Disagreements"
		if len(lanes) > 1 {
			title = "Disagreements on the " + lane + " lane"
		}
		dis, diff := d.compare(idx, true)
		sections = append(sections, section{title, dis, diff})
	}
	if len(lanes) > 1 {
		for _, sut := range suts {
			if idx := d.where(func(r Results) bool { return r.SUT == sut }); len(idx) > 1 {
				dis, _ := d.compare(idx, false)
				sections = append(sections, section{title: sut + ": verdicts that differ between lanes", disagreements: dis})
			}
		}
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
	for _, sec := range sections {
		if len(sec.disagreements) == 0 {
			fmt.Fprintf(&b, "\n## %s\n\nNone: every spec has the same verdict.\n", sec.title)
		} else {
			fmt.Fprintf(&b, "\n## %s (%d)\n\n%s\n", sec.title, len(sec.disagreements), strings.Join(sec.disagreements, "\n"))
		}
		if len(sec.differences) > 0 {
			fmt.Fprintf(&b, "\n## Same verdict, different evidence (%d)\n\nRun-specific names, sizes and durations left out.\n\n%s\n", len(sec.differences), strings.Join(sec.differences, "\n"))
		}
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

// differ compares runs spec by spec.
type differ struct {
	runs  []Results
	names []string
	bySUT []map[string]SpecResult
	specs []string
}

// where are the indexes of the runs keep selects.
func (d differ) where(keep func(Results) bool) []int {
	var idx []int
	for i, r := range d.runs {
		if keep(r) {
			idx = append(idx, i)
		}
	}
	return idx
}

// compare lists the specs whose verdicts differ among the runs idx and, with evidence, the specs
// of one verdict whose evidence differs.
func (d differ) compare(idx []int, evidence bool) (disagreements, differences []string) {
	for _, spec := range d.specs {
		verdicts := make([]string, 0, len(idx))
		for _, i := range idx {
			verdicts = append(verdicts, verdictOf(d.bySUT[i], spec))
		}
		if len(slices.Compact(slices.Clone(verdicts))) == 1 {
			if diff := d.evidenceDifference(idx, spec); evidence && diff != "" {
				differences = append(differences, diff)
			}
			continue
		}
		var parts []string
		for k, i := range idx {
			s, ok := d.bySUT[i][spec]
			detail := verdicts[k]
			if ok && s.Reason != "" {
				detail += ": " + s.Reason
			}
			parts = append(parts, fmt.Sprintf("%s %s", d.names[i], detail))
		}
		disagreements = append(disagreements, fmt.Sprintf("- **%s**: %s", spec, strings.Join(parts, "; ")))
	}
	return disagreements, differences
}

// evidenceDifference says how the evidence of one spec differs between the runs idx once what
// differs from run to run anyway is left out; "" when it does not.
func (d differ) evidenceDifference(idx []int, spec string) string {
	var parts, seen []string
	for _, i := range idx {
		e := d.runs[i].normalize(strings.Join(d.bySUT[i][spec].Evidence, "; "))
		seen = append(seen, e)
		parts = append(parts, fmt.Sprintf("%s: %s", d.names[i], e))
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
