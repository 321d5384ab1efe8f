package report

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, ContainerHierarchyTexts: []string{"backupPVC"},
		State: state, RunTime: 1500 * time.Millisecond, Failure: types.Failure{Message: msg}}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name  string
		specs []types.SpecReport
		ok    bool
		want  []string
	}{
		{name: "all pass", ok: true, specs: []types.SpecReport{spec("a | b", types.SpecStatePassed, "")},
			want: []string{"# backupPVC conformance report: PASS", "| result | 1 passed, 0 failed, 0 skipped |",
				`| backupPVC a \| b |  | PASS | 1.5s |`, "| etcd | v3.6.8 |", "timeout on preparing data upload"}},
		{name: "a failure with its message and diagnostics", specs: []types.SpecReport{spec("x", types.SpecStateFailed, "boom"),
			spec("y", types.SpecStateSkipped, "no class with role refusesReadOnly")},
			want: []string{"report: FAIL", "| result | 0 passed, 1 failed, 1 skipped |", "### FAILED: backupPVC x\n\n```\nboom\n```",
				"Diagnostics: `/d/backuppvc-x/`", "SKIP: no class with role refusesReadOnly"}},
		{name: "a failure of the run, outside the cases", specs: []types.SpecReport{spec("x", types.SpecStatePassed, ""),
			{LeafNodeType: types.NodeTypeSynchronizedAfterSuite, State: types.SpecStateFailed,
				Failure: types.Failure{Message: "tearing the lane down: the specs left 1 namespaces of the run, removed at the end: bpvc-r-a-0"}}},
			want: []string{"report: FAIL", "| result | 1 passed, 0 failed, 0 skipped |",
				"### FAILED (the run, not a case): SynchronizedAfterSuite\n\n```\ntearing the lane down: the specs left 1 namespaces of the run, removed at the end: bpvc-r-a-0\n```"}},
		{name: "interrupted", specs: []types.SpecReport{spec("z", types.SpecStateInterrupted, "interrupted by user")},
			want: []string{"report: FAIL (the run was interrupted: results are incomplete)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			r := types.Report{SuiteSucceeded: tc.ok, SpecReports: tc.specs}
			if err := Write(&b, r, Info{Lane: "local", Driver: "d", Versions: map[string]string{"etcd": "v3.6.8"}, Diagnostics: "/d"}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
