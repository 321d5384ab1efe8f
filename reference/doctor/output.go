package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people: the configuration found, the lint findings, a table of
// the entries, each entry's checks, the informational lines, what could not be checked, and what
// the exit code means.
func WriteText(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	d := r.Discovery
	fmt.Fprintf(b, "Velero namespace  %s\n", d.Namespace)
	if d.DaemonSet != "" {
		fmt.Fprintf(b, "node-agent        DaemonSet %s, container %s\n", d.DaemonSet, d.Container)
	} else {
		fmt.Fprintf(b, "node-agent        no DaemonSet %s\n", NodeAgentDaemonSet)
	}
	switch {
	case d.ConfigMap == "":
		fmt.Fprintf(b, "ConfigMap         none (no %s)\n", flagConfigMap)
	default:
		from := map[string]string{FromDaemonSet: "the DaemonSet's " + flagConfigMap, FromFlag: "given to the doctor"}[d.ConfigMapFrom]
		found := ""
		if !d.ConfigMapFound {
			found = ", not found"
		}
		fmt.Fprintf(b, "ConfigMap         %s (%s%s)\n", d.ConfigMap, from, found)
	}
	from := map[string]string{FromDaemonSet: "the DaemonSet's " + flagPrepareTimeout, FromFlag: "given to the doctor",
		FromDefault: "Velero's default: no " + flagPrepareTimeout}[d.PrepareTimeoutFrom]
	fmt.Fprintf(b, "prepare timeout   %s (%s)\n", d.PrepareTimeout.Duration, from)

	if d.ConfigMapFound {
		fmt.Fprintf(b, "\nlint: %s\n", lintSummary(r))
		for _, f := range r.Lint {
			fmt.Fprintf(b, "  %s\n", f)
		}
	}

	if len(r.Entries) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENTRY (SOURCE CLASS)\tBACKUPPVC CLASS\tACCESS MODE\tVERDICT\tPROBE")
		for _, e := range r.Entries {
			probe := "-"
			if e.Probe != nil {
				probe = e.Probe.Outcome
				if e.Probe.BackupPVCBound != nil {
					probe += " in " + e.Probe.BackupPVCBound.Duration.String()
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.SourceClass, e.BackupPVCClass, e.AccessMode, e.Verdict, probe)
		}
		_ = tw.Flush()
		for _, e := range r.Entries {
			fmt.Fprintf(b, "\n%s: %s: %s\n", e.SourceClass, e.Verdict, e.Summary)
			tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
			for _, c := range e.Checks {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Status, c.Name, c.Message)
			}
			_ = tw.Flush()
			if e.Probe != nil && len(e.Probe.Warnings) > 0 && e.Probe.Outcome != OutcomeBound {
				b.WriteString("  warning events:\n")
				for _, w := range e.Probe.Warnings {
					fmt.Fprintf(b, "    %s\n", w)
				}
			}
		}
	}

	if len(r.UnusedEntries) > 0 {
		fmt.Fprintf(b, "\nentries no PVC uses (they apply to no volume yet): %s\n", strings.Join(r.UnusedEntries, ", "))
	}
	if len(r.ClassesWithoutEntry) > 0 {
		var parts []string
		for _, u := range r.ClassesWithoutEntry {
			parts = append(parts, fmt.Sprintf("%s (%d PVC%s)", u.Class, u.PVCs, plural(u.PVCs, "", "s")))
		}
		fmt.Fprintf(b, "\nPVC classes without an entry (their backupPVCs use the source class and ReadWriteOnce): %s\n", strings.Join(parts, ", "))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(b, "  %s\n", n)
		}
	}
	if pr := r.ProbeRun; pr != nil {
		left := "nothing left"
		if len(pr.Left) > 0 {
			left = "left: " + strings.Join(pr.Left, ", ")
		}
		interrupted := ""
		if pr.Interrupted {
			interrupted = ", interrupted"
		}
		fmt.Fprintf(b, "\nprobe: run %s (%s), %d namespace%s, %s%s; cleanup %s, %s\n", pr.Run, pr.Selector, len(pr.Namespaces),
			plural(len(pr.Namespaces), "", "s"), pr.Took.Duration, interrupted, pr.CleanupTook.Duration, left)
	}
	if len(r.Problems) > 0 {
		b.WriteString("\ncould not check:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(b, "  %s\n", p)
		}
	}
	fmt.Fprintf(b, "\nexit %d: %s\n", r.ExitCode, exitMeaning(r.ExitCode))
	_, err := io.WriteString(w, b.String())
	return err
}

func lintSummary(r *Report) string {
	errs, warns := 0, 0
	for _, f := range r.Lint {
		if f.Severity == "error" {
			errs++
		} else {
			warns++
		}
	}
	switch {
	case errs == 0 && warns == 0:
		return "no findings"
	case errs == 0:
		return fmt.Sprintf("%d warning%s (Velero accepts them, probably not as meant)", warns, plural(warns, "", "s"))
	}
	return fmt.Sprintf("%d error%s, %d warning%s", errs, plural(errs, "", "s"), warns, plural(warns, "", "s"))
}

func exitMeaning(code int) string {
	switch code {
	case ExitFine:
		return "no entry will stall or be refused"
	case ExitStall:
		return "an entry will stall or be refused"
	}
	return "something could not be checked"
}
