package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Info is what the report says about the run besides the specs.
type Info struct {
	Lane    string
	Driver  string
	Profile string
	// SUTName is the system under test's short name (make e2e SUT=...), SUT its description.
	SUTName     string
	RunID       string
	SUT         string
	Versions    map[string]string
	Diagnostics string
}

// Disagreements between Velero's backupPVC page and its v1.18.3 code; the suites test the code.
var Disagreements = []string{
	"The page says the DataUpload is *canceled* after the prepare timeout; the code ends it **Failed** with `timeout on preparing data upload`. The backup still ends PartiallyFailed.",
	"The page calls `--node-agent-configmap` a velero *server* argument; it is a **node-agent** server argument (and a `velero install` flag).",
	"The page's annotations sample uses a boolean value, which does not decode into map[string]string: the node-agent refuses the whole ConfigMap.",
	"`velero install` accepts a ConfigMap with several data keys; the node-agent refuses it.",
}

// Write renders the report.
func Write(w io.Writer, r types.Report, info Info) error {
	var b strings.Builder
	passed, failed, skipped := 0, 0, 0
	var specs []types.SpecReport
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		specs = append(specs, s)
		switch {
		case s.State.Is(types.SpecStatePassed):
			passed++
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			skipped++
		default:
			failed++
		}
	}
	verdict := "PASS"
	if failed > 0 || !r.SuiteSucceeded {
		verdict = "FAIL"
	}
	for _, s := range specs {
		if s.State.Is(types.SpecStateInterrupted) {
			verdict = "FAIL (the run was interrupted: results are incomplete)"
			break
		}
	}
	fmt.Fprintf(&b, "# backupPVC conformance report: %s\n\n", verdict)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| driver | %s (profile `%s`) |\n| lane | %s |\n| system under test | %s |\n", info.Driver, info.Profile, info.Lane, info.SUT)
	fmt.Fprintf(&b, "| started | %s |\n| duration | %s |\n", r.StartTime.UTC().Format(time.RFC3339), r.RunTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "| result | %d passed, %d failed, %d skipped |\n\n", passed, failed, skipped)
	if findings := entries(specs, "finding"); len(findings) > 0 {
		b.WriteString("## Findings\n\nBehaviour of the system under test worth knowing that no spec fails on.\n\n" + strings.Join(findings, "\n") + "\n\n")
	}

	b.WriteString("## Components\n\n| component | version |\n|---|---|\n")
	keys := make([]string, 0, len(info.Versions))
	for k := range info.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %s |\n", k, info.Versions[k])
	}

	b.WriteString("\n## Cases\n\n| case | labels | verdict | duration |\n|---|---|---|---|\n")
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].FullText() < specs[j].FullText() })
	for _, s := range specs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(s.FullText()), strings.Join(s.Labels(), ", "), stateWord(s), s.RunTime.Round(time.Millisecond))
	}
	for _, s := range specs {
		if !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		fmt.Fprintf(&b, "\n### FAILED: %s\n\n```\n%s\n```\n", s.FullText(), strings.TrimSpace(s.Failure.Message))
		if info.Diagnostics != "" {
			fmt.Fprintf(&b, "Diagnostics: `%s/%s/`\n", info.Diagnostics, DiagnosticsFolder(s.FullText()))
		}
	}
	// A failure outside the cases (the lane's bring-up, the end-of-run sweep of what specs left,
	// a component that died) fails the run as much as a case does.
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt && s.State.Is(types.SpecStateFailureStates) {
			node := strings.TrimSpace(s.LeafNodeType.String() + " " + s.LeafNodeText)
			fmt.Fprintf(&b, "\n### FAILED (the run, not a case): %s\n\n```\n%s\n```\n", node, strings.TrimSpace(s.Failure.Message))
		}
	}
	if evidence := entries(specs, "evidence"); len(evidence) > 0 {
		b.WriteString("\n## Evidence\n\n" + strings.Join(evidence, "\n") + "\n")
	}
	b.WriteString("\n## Where Velero's documentation and code disagree\n\nThe suites test the code's behaviour (Velero v1.18.3).\n\n")
	for i, d := range Disagreements {
		fmt.Fprintf(&b, "%d. %s\n", i+1, d)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// entries lists the specs' report entries of one name as Markdown items.
func entries(specs []types.SpecReport, name string) []string {
	var out []string
	for _, s := range specs {
		for _, e := range s.ReportEntries {
			if e.Name == name {
				out = append(out, fmt.Sprintf("- **%s**: %s", s.FullText(), strings.ReplaceAll(e.StringRepresentation(), "\n", " ")))
			}
		}
	}
	return out
}

func stateWord(s types.SpecReport) string {
	switch {
	case s.State.Is(types.SpecStatePassed):
		return "PASS"
	case s.State.Is(types.SpecStateSkipped):
		if s.Failure.Message != "" {
			return "SKIP: " + cell(s.Failure.Message)
		}
		return "SKIP"
	case s.State.Is(types.SpecStatePending):
		return "PENDING"
	}
	return "**FAIL**"
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

// DiagnosticsFolder is the folder name of a spec's diagnostics.
func DiagnosticsFolder(specText string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(specText) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); len(s) > 0 && s[len(s)-1] != '-' {
				b.WriteByte('-')
			}
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 80 {
		out = out[:80]
	}
	return out
}
