package negative

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Score is caught / planted.
func Score(outs []Outcome) (caught, planted int) {
	for _, o := range outs {
		if o.Verdict == Caught {
			caught++
		}
	}
	return caught, len(outs)
}

// WriteTable writes the Markdown report: the mutation score, then one row per mutant (mutant |
// spec item | what it plants | caught by | verdict), the mutants not caught first.
func WriteTable(w io.Writer, outs []Outcome, wall time.Duration) error {
	caught, planted := Score(outs)
	var b strings.Builder
	fmt.Fprintf(&b, "# Negative controls\n\nThe reference built with one planted defect at a time (reference/mutant), each run against the conformance spec that must fail it, on one local lane (emulator) used as the existing lane. A mutant is caught only when a spec fails with the mutant's evidence in its failure message.\n\n")
	fmt.Fprintf(&b, "**Mutation score: %d/%d caught** (wall time %v).\n\n", caught, planted, wall.Round(time.Second))
	b.WriteString("| mutant | spec item | plants | spec run | caught by | verdict | time |\n|---|---|---|---|---|---|---|\n")
	for _, pass := range []bool{false, true} {
		for _, o := range outs {
			if (o.Verdict == Caught) != pass {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %v |\n", o.Mutant.Name, o.Mutant.Item, cell(o.Mutant.Plants), cell(o.Mutant.Focus),
				cell(caughtBy(o)), o.Verdict, o.Duration.Round(time.Second))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// caughtBy names the specs that caught the mutant with the line of their failure that carries the
// evidence; for one not caught, what failed instead (or why nothing could be judged).
func caughtBy(o Outcome) string {
	fs := o.CaughtBy
	if len(fs) == 0 {
		fs = o.Failures
	}
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s: %s", specName(f.Spec), evidenceLine(f.Message, o.Mutant.Evidence)))
	}
	switch {
	case o.Err != nil:
		parts = append(parts, "not judged: "+o.Err.Error())
	case len(parts) == 0 && o.Ran == 0:
		parts = append(parts, "no spec ran (focus matched nothing, or the spec was skipped)")
	case len(parts) == 0:
		parts = append(parts, fmt.Sprintf("none: %d spec(s) ran and passed", o.Ran))
	}
	return strings.Join(parts, "; ")
}

// specName is a spec's full text up to its scenario's doc (the part after the first ": ").
func specName(full string) string {
	if i := strings.Index(full, ": "); i > 0 {
		return full[:i]
	}
	return full
}

// evidenceLine is the failure message's line holding evidence (else its first line), cut short
// around it.
func evidenceLine(msg, evidence string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	line := lines[0]
	for _, l := range lines {
		if evidence != "" && strings.Contains(l, evidence) {
			line = strings.TrimSpace(l)
			break
		}
	}
	const most = 200
	if len(line) > most {
		i := max(0, strings.Index(line, evidence)-most/2)
		line = "..." + line[i:min(len(line), i+most)] + "..."
	}
	return line
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
