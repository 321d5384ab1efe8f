package chaos

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// Chaos judges the reference as the suites do, from outside: it starts it through suites/sut and
// imports nothing of it.
func TestChaosImportsNothingFromTheReference(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-test", "./suites/chaos", "./suites/cmd/chaos")
	cmd.Dir = toolchain.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/backuppvc-conformance/harness/reference") {
			t.Errorf("chaos depends on %s", pkg)
		}
	}
}
