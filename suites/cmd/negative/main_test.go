package main

import (
	"testing"

	"github.com/backuppvc-conformance/harness/internal/cmdline/cmdlinetest"
)

func TestParseArgs(t *testing.T) {
	cmdlinetest.Run(t, parseArgs, []cmdlinetest.Case[options]{
		{Name: "flags", Args: []string{"--artifacts", "/a", "--parallel", "1", "--mutants", "a,b"}, OK: true,
			Want: cmdlinetest.Equals(options{artifacts: "/a", parallel: 1, only: "a,b"})},
		// negative a would have run every mutant, not mutant a.
		{Name: "a mutant as an argument", Args: []string{"--artifacts", "/a", "a"}, Code: 2,
			Stderr: "negative: unexpected argument \"a\"\nusage: negative [--artifacts DIR] [--parallel 3] [--mutants a,b]\n"},
		{Name: "a bad number", Args: []string{"--parallel", "x"}, Code: 2, Stderr: "invalid value \"x\" for flag -parallel"},
		{Name: "help", Args: []string{"-h"}, Stderr: "usage: negative"},
	})
}
