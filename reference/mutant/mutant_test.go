package mutant

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// planted finds every mutant.Is("<name>") in the reference's sources.
var planted = regexp.MustCompile(`mutant\.Is\("([^"]+)"\)`)

// TestEveryNameIsPlanted: the names the reference tests for are exactly Names, each planted
// once, so a defect can be neither misspelt at its line nor listed and never planted.
func TestEveryNameIsPlanted(t *testing.T) {
	count := map[string]int{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if filepath.Base(filepath.Dir(path)) == "mutant" {
			return nil // this package's documentation shows the pattern
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range planted.FindAllStringSubmatch(string(data), -1) {
			count[m[1]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range count {
		if !slices.Contains(Names, name) {
			t.Errorf("mutant.Is(%q) in the reference: not in Names", name)
		}
		if n != 1 {
			t.Errorf("mutant %q is tested at %d places, want 1 (one defect, one line)", name, n)
		}
	}
	for _, name := range Names {
		if count[name] == 0 {
			t.Errorf("mutant %q is in Names but planted nowhere", name)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(Names)))) != len(Names) {
		t.Errorf("Names has duplicates: %v", Names)
	}
}

func TestCheck(t *testing.T) {
	if err := Check(""); err != nil {
		t.Errorf("Check(\"\") = %v, want nil: the reference without a defect", err)
	}
	if err := Check(Names[0]); err != nil {
		t.Errorf("Check(%q) = %v, want nil", Names[0], err)
	}
	if err := Check("b4-typo"); err == nil || !strings.Contains(err.Error(), "mutant:") {
		t.Errorf("Check of an unknown name = %v, want an error prefixed mutant:", err)
	}
	if Is(Names[0]) || Active() != "" {
		t.Errorf("a test build carries defect %q", Active())
	}
}

// TestLinkVariable: the harness names the variable without importing this package
// (suites/sut.mutantVariable); it must stay this one.
func TestLinkVariable(t *testing.T) {
	if got := LDFlags("x"); got != "-X github.com/backuppvc-conformance/harness/reference/mutant.active=x" {
		t.Errorf("LDFlags = %q: update suites/sut/reference.go's mutantVariable", got)
	}
}
