package conformance

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// The suites judge any system under test through Velero's public surface: neither they nor the
// packages they use may import the reference (the reference SUT is a process they start). make
// chaos judges it the same way, from outside.
func TestSuitesImportNothingFromTheReference(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-test", "./suites/conformance", "./suites/sut", "./suites/lane/...", "./suites/report", "./suites/chaos", "./suites/cmd/chaos")
	cmd.Dir = toolchain.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/backuppvc-conformance/harness/reference") {
			t.Errorf("the suites depend on %s", pkg)
		}
	}
}
