package conformance

import (
	"slices"
	"testing"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// The longest specs start first: the restart spec, then the other prepare-timeout specs, then the
// 20-backup, block and copy-collision specs, then the rest.
func TestLongestScenariosFirst(t *testing.T) {
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for _, sc := range Scenarios(p) {
		byName[sc.Name] = sc.priority()
	}
	rank := func(names ...string) []int {
		var out []int
		for _, n := range names {
			pr, ok := byName[n]
			if !ok {
				t.Fatalf("no scenario %s", n)
			}
			out = append(out, pr)
		}
		return out
	}
	restart, timeouts := rank("restart-while-accepted")[0], rank("missing-class", "refuses-read-only", "other-driver")
	longer, plain := rank("many", "block", "copy-collision"), rank("no-entry", "override", "read-only")
	if slices.Max(timeouts) >= restart || slices.Min(timeouts) <= slices.Max(longer) || slices.Min(longer) <= slices.Max(plain) {
		t.Errorf("priorities: restart %d, timeouts %v, longer %v, plain %v: want each group above the next", restart, timeouts, longer, plain)
	}
	if prioritySecondInstallation <= slices.Max(plain) || prioritySecondInstallation >= slices.Min(timeouts) {
		t.Errorf("A6's priority %d: want between the plain specs' %v and the timeouts' %v", prioritySecondInstallation, plain, timeouts)
	}
}
