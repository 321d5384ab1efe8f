package report

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	in := `DataUpload many-0-5eb7e8-46e080fa Completed after 1m10.6s; PV pvc-b8e8c753-9e16-4304-916f-4def659be2d8 (and 19 more`
	want := `DataUpload <dataupload> Completed after <duration>; PV pvc-<uid> (and <n> more`
	if got := Normalize(in); got != want {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
	if got := Normalize("DataUpload no-entry-0-d72845-7xlhr"); got != "DataUpload <dataupload>" {
		t.Errorf("Velero's generated name: %q", got)
	}
}

func TestWriteDifferential(t *testing.T) {
	ref := Results{SUT: "reference", RunID: "5eb7e8", Lane: "local", Driver: "emulator", Specs: []SpecResult{
		{Name: "a", Verdict: "passed", Evidence: []string{"backupPVC class x"}},
		{Name: "e", Verdict: "passed", Findings: []string{"DataUpload e-0-5eb7e8-46e080fa Completed in bpvc-5eb7e8-e"}},
		{Name: "f", Verdict: "passed", Findings: []string{"DataUpload f-0-5eb7e8-46e080fb Completed in bpvc-5eb7e8-e"}},
		{Name: "b", Verdict: "passed"},
		{Name: "c", Verdict: "skipped", Reason: "needs a kubelet"},
	}}
	velero := Results{SUT: "velero", Lane: "local", Driver: "emulator", Specs: []SpecResult{
		{Name: "a", Verdict: "passed", Findings: []string{"DataUpload Completed with no data"}},
		{Name: "b", Verdict: "failed", Reason: "DataUpload ended Failed"},
		{Name: "c", Verdict: "skipped", Reason: "needs a kubelet"},
		{Name: "d", Verdict: "passed"},
		{Name: "e", Verdict: "passed"},
		{Name: "f", Verdict: "passed"},
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
		"## Findings: velero\n\n- DataUpload Completed with no data (1 specs: a)",
		"## Same verdict, different evidence (1)",
		"## Findings: reference\n\n- DataUpload <dataupload> Completed in bpvc-<run>-e (2 specs: e; f)",
		"- **a**: reference: backupPVC class x / velero: ",
		"| a | PASS: backupPVC class x | PASS |",
		"| reference | 4 passed, 0 failed, 1 skipped |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("differential lacks %q:\n%s", want, out)
		}
	}
	_, disagreements, _ := strings.Cut(out, "## Disagreements")
	disagreements, _, _ = strings.Cut(disagreements, "\n## ")
	if strings.Contains(disagreements, "- **c**") || strings.Contains(disagreements, "- **a**") {
		t.Errorf("specs with the same verdict listed as disagreements:\n%s", disagreements)
	}
	if err := WriteDifferential(&b, []Results{ref}); err == nil {
		t.Error("one system's results made a differential table")
	}
	// Runs on two lanes: each column names its lane.
	kind := velero
	kind.Lane = "kind"
	kind.Specs = slices.Clone(velero.Specs)
	kind.Specs[2] = SpecResult{Name: "c", Verdict: "passed", Evidence: []string{"the kubelet ran it"}}
	b.Reset()
	if err := WriteDifferential(&b, []Results{ref, velero, kind}); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	for _, want := range []string{"on the local and kind lanes", "| spec | reference on local | velero on local | velero on kind |",
		"## Disagreements on the local lane (2)\n\n- **b**: reference on local passed; velero on local failed: DataUpload ended Failed\n",
		"## velero: verdicts that differ between lanes (1)\n\n- **c**: velero on local skipped: needs a kubelet; velero on kind passed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("differential of two lanes lacks %q:\n%s", want, out)
		}
	}
}
