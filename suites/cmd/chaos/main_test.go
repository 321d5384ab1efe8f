package main

import (
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/internal/cmdline/cmdlinetest"
)

func TestParseArgs(t *testing.T) {
	cmdlinetest.Run(t, parseArgs, []cmdlinetest.Case[options]{
		{Name: "flags", Args: []string{"--rounds", "3", "--seed", "42", "--artifacts", "/a", "--lane-name", "chaos-x", "--prepare-timeout", "5s", "--sut-only"}, OK: true,
			Want: cmdlinetest.Equals(options{rounds: 3, seed: 42, artifacts: "/a", laneName: "chaos-x", prepareTimeout: 5 * time.Second, sutOnly: true})},
		{Name: "defaults", OK: true, Want: func(o options) string {
			if o.rounds != 30 || o.laneName != "chaos-local" || o.prepareTimeout != 10*time.Second || o.sutOnly {
				return "defaults not 30 rounds, chaos-local, 10s, all components"
			}
			// No seed given: one from the clock, never 0 (which would read as "none").
			if o.seed == 0 {
				return "no seed drawn"
			}
			return ""
		}},
		// Up takes down a lane of the same name first: make e2e's would go down mid-run.
		{Name: "another command's lane", Args: []string{"--lane-name", "e2e-local-reference"}, Code: 2,
			Stderr: "chaos: --lane-name \"e2e-local-reference\": must start with \"chaos-\""},
		{Name: "no rounds", Args: []string{"--rounds", "0"}, Code: 2, Stderr: "chaos: --rounds 0: want at least 1"},
		{Name: "a tiny timeout", Args: []string{"--prepare-timeout", "10ms"}, Code: 2, Stderr: "chaos: --prepare-timeout 10ms"},
		{Name: "an argument", Args: []string{"30"}, Code: 2, Stderr: "chaos: unexpected argument \"30\"\nusage: chaos [--rounds"},
		{Name: "an unknown flag", Args: []string{"--round", "1"}, Code: 2, Stderr: "flag provided but not defined: -round\nusage: chaos"},
		{Name: "help", Args: []string{"-h"}, Stderr: "usage: chaos"},
	})
}
