// Package mutant is the switch of the negative controls: a reference built with
// -ldflags "-X github.com/backuppvc-conformance/harness/reference/mutant.active=<name>" carries
// exactly one deliberate defect, planted at its line in the reference as
// `if mutant.Is("<name>") { ... }`, so that a run of the conformance suites against it proves
// the specs fail a wrong system (suites/negative). The default build has none: active is empty and
// every Is is false.
package mutant

import (
	"fmt"
	"slices"
)

// ImportPath is this package's, for the linker's -X flag.
const ImportPath = "github.com/backuppvc-conformance/harness/reference/mutant"

// active is the planted defect's name, set only at link time.
var active string

// Names are every defect planted in the reference. A name outside this list makes the binary
// refuse to start (a typo in a build flag must not pass as a mutant that survived nothing), and
// the package's test checks that the reference's Is calls name exactly these.
var Names = []string{
	"a4-two-keys-accepted",
	"a6-default-name",
	"a5-case-sensitive-keys",
	"a5-type-mismatch-ignored",
	"b1-default-entry",
	"b2-no-entry-read-only",
	"b3-empty-class-unset",
	"b4-read-only-rwo",
	"b4-extra-access-mode",
	"b4-override-ignored",
	"b4-read-only-needs-class",
	"b5-label",
	"b5-annotations-dropped",
	"b5-owner-not-controller",
	"b6-block-as-filesystem",
	"b6-data-source-original",
	"b7-size-from-source",
	"b8-backup-vsc-retain",
	"b9-spc-ignored",
	"b9-spc-without-read-only",
	"b10-copies-kept",
	"b10-collision-overwritten",
	"c1-restart-always",
	"c1-grace-period",
	"c2-volume-writable",
	"c2-mount-writable",
	"c3-run-as-non-root",
	"c4-no-pod-group-label",
	"c5-affinity-by-source-class",
	"d1-skip-prepared",
	"d2-no-expose-label",
	"d3-pending-canceled",
	"d3-failed-pod-ignored",
	"d4-timeout-early",
	"d5-timeout-message",
	"d5-expose-label-kept",
	"d5-no-diagnosis",
	"d6-backup-pvc-left",
	"d6-snapshot-first",
	"d7-count-from-restart",
	"e1-failure-not-counted",
	"e1-canceled-not-counted",
	"e2-no-completion-timestamp",
}

func init() {
	if err := Check(active); err != nil {
		panic(err)
	}
}

// Check says whether name is a planted defect ("" is the reference without one).
func Check(name string) error {
	if name != "" && !slices.Contains(Names, name) {
		return fmt.Errorf("mutant: %q is no defect planted in the reference (known: %v)", name, Names)
	}
	return nil
}

// Is says whether this build carries defect name.
func Is(name string) bool { return active != "" && active == name }

// Active is the defect this build carries, "" for none.
func Active() string { return active }

// LDFlags is the -ldflags value that builds the reference with defect name.
func LDFlags(name string) string { return "-X " + ImportPath + ".active=" + name }
