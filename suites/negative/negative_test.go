package negative

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/reference/mutant"
	"github.com/backuppvc-conformance/harness/suites/conformance"
)

// TestRegistryIsEveryPlantedDefect: every defect planted in the reference has its negative
// control, and no control names a defect that is not planted.
func TestRegistryIsEveryPlantedDefect(t *testing.T) {
	var names []string
	for _, m := range Mutants {
		names = append(names, m.Name)
		if m.Item == "" || m.Plants == "" || m.Focus == "" || m.Evidence == "" {
			t.Errorf("mutant %s: item, plants, focus and evidence are all needed: %+v", m.Name, m)
		}
	}
	if got, want := slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(mutant.Names)); !slices.Equal(got, want) {
		t.Errorf("registry %v\nplanted  %v", got, want)
	}
}

// TestFocusNamesARunnableSpec: each backupPVC focus is a scenario of the emulator's profile that
// runs on the local lane (not one the lane skips), and each ConfigMap focus an entry of the
// refusal table or a ConfigMap spec of its own.
func TestFocusNamesARunnableSpec(t *testing.T) {
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	var configSpecs string
	for _, f := range []string{"configmap_test.go", "noconfig_test.go"} {
		data, err := os.ReadFile(filepath.Join(toolchain.RepoRoot(), "suites", "conformance", f))
		if err != nil {
			t.Fatal(err)
		}
		configSpecs += string(data)
	}
	for _, m := range Mutants {
		name, ok := strings.CutPrefix(m.Focus, "backupPVC ")
		if !ok {
			if !strings.Contains(configSpecs, `Entry("`+m.Focus) && !strings.Contains(configSpecs, `It("`+m.Focus) {
				t.Errorf("mutant %s: focus %q is no ConfigMap spec (an entry of the table, or a spec of its own)", m.Name, m.Focus)
			}
			continue
		}
		i := slices.IndexFunc(conformance.Scenarios(p), func(s conformance.Scenario) bool { return s.Name+":" == name })
		if i < 0 {
			t.Errorf("mutant %s: focus %q names no scenario", m.Name, m.Focus)
			continue
		}
		sc := conformance.Scenarios(p)[i]
		if _, ok := p.Class(sc.Needs); (sc.Needs != "" && !ok) || sc.WriteProbe || sc.Scale > 1 {
			t.Errorf("mutant %s: scenario %s does not run alone on the local lane", m.Name, sc.Name)
		}
	}
}

func spec(text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}}
}

func TestJudge(t *testing.T) {
	m := Mutant{Name: "b4-read-only-rwo", Evidence: "want exactly [ReadOnlyMany]"}
	cases := []struct {
		name  string
		specs []types.SpecReport
		want  Verdict
	}{
		{"the spec fails on the defect", []types.SpecReport{spec("read-only", types.SpecStateFailed, "backup 1 of 1\nbackupPVC x: accessModes [ReadWriteOnce], want exactly [ReadOnlyMany]")}, Caught},
		{"the spec passes", []types.SpecReport{spec("read-only", types.SpecStatePassed, "")}, Survived},
		{"it fails for another reason", []types.SpecReport{spec("read-only", types.SpecStateFailed, "waiting 1m0s for the source PVC to be bound")}, Unproven},
		{"a timeout is a failure too", []types.SpecReport{spec("read-only", types.SpecStateTimedout, "want exactly [ReadOnlyMany]")}, Caught},
		{"nothing ran", []types.SpecReport{spec("read-only", types.SpecStateSkipped, "")}, Unproven},
		{"the suite's own node failed", []types.SpecReport{{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStateFailed, Failure: types.Failure{Message: "bringing the existing lane up"}}}, Unproven},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Judge(m, []types.Report{{SpecReports: c.specs}})
			if got.Verdict != c.want {
				t.Errorf("verdict %s, want %s (%+v)", got.Verdict, c.want, got)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	outs := []Outcome{
		{Mutant: Mutant{Name: "caught-one", Item: "B4", Plants: "a | b", Focus: "backupPVC read-only:", Evidence: "want exactly"}, Verdict: Caught,
			CaughtBy: []Failure{{Spec: "backupPVC read-only: B4 C2: ...", Message: "backup 1 of 1\n  accessModes [ReadWriteOnce], want exactly [ReadOnlyMany]"}}, Duration: 20 * time.Second},
		{Mutant: Mutant{Name: "survivor", Item: "D7", Plants: "x", Focus: "f", Evidence: "e"}, Verdict: Survived, Ran: 1},
	}
	var b strings.Builder
	if err := WriteTable(&b, outs, time.Minute); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{"**Mutation score: 1/2 caught**", `a \| b`, "backupPVC read-only: accessModes [ReadWriteOnce], want exactly [ReadOnlyMany]", "none: 1 spec(s) ran and passed"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "| survivor |") > strings.Index(got, "| caught-one |") {
		t.Errorf("a mutant not caught must come first:\n%s", got)
	}
}

func TestAsExisting(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(toolchain.RepoRoot(), "drivers", "emulator", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := asExisting(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(doc, "create: true") || strings.Contains(doc, "\nlocal:") || !strings.Contains(doc, "lanes: [existing]") {
		t.Errorf("not the existing lane's profile:\n%s", doc)
	}
	p := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Find(toolchain.RepoRoot(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !prof.SupportsLane("existing") {
		t.Errorf("lanes %v, want existing", prof.Lanes)
	}
	if _, err := asExisting("name: x\n"); err == nil {
		t.Error("a profile not shaped like the emulator's must be an error")
	}
}
