package report

import (
	"strings"
	"testing"
)

func TestWriteDifferential(t *testing.T) {
	ref := Results{SUT: "reference", Lane: "local", Driver: "emulator", Specs: []SpecResult{
		{Name: "a", Verdict: "passed", Evidence: []string{"backupPVC class x"}},
		{Name: "b", Verdict: "passed"},
		{Name: "c", Verdict: "skipped", Reason: "needs a kubelet"},
	}}
	velero := Results{SUT: "velero", Lane: "local", Driver: "emulator", Specs: []SpecResult{
		{Name: "a", Verdict: "passed", Findings: []string{"DataUpload Completed with no data"}},
		{Name: "b", Verdict: "failed", Reason: "DataUpload ended Failed"},
		{Name: "c", Verdict: "skipped", Reason: "needs a kubelet"},
		{Name: "d", Verdict: "passed"},
	}}
	var b strings.Builder
	if err := WriteDifferential(&b, []Results{ref, velero}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## Disagreements (2)",
		"- **b**: reference passed; velero failed: DataUpload ended Failed",
		"- **d**: reference not run; velero passed",
		"## Findings: velero\n\n- **a**: DataUpload Completed with no data",
		"| a | PASS: backupPVC class x | PASS |",
		"| reference | 2 passed, 0 failed, 1 skipped |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("differential lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "- **c**") || strings.Contains(out, "- **a**: reference") {
		t.Errorf("specs with the same verdict listed as disagreements:\n%s", out)
	}
	if err := WriteDifferential(&b, []Results{ref}); err == nil {
		t.Error("one system's results made a differential table")
	}
}
