package main

import (
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/internal/cmdline/cmdlinetest"
)

func TestParseArgs(t *testing.T) {
	cmdlinetest.Run(t, parseArgs, []cmdlinetest.Case[options]{
		{Name: "scale", Args: []string{"--scale", "1,2", "--artifacts", "/a"}, OK: true,
			Want: func(o options) string {
				if o.scale != "1,2" || o.artifacts != "/a" {
					return "scale and artifacts not read"
				}
				return ""
			}},
		{Name: "verdict", Args: []string{"--verdict-junit", "j.xml", "--verdict-wall", "3s"}, OK: true,
			Want: func(o options) string {
				if o.verdictJUnit != "j.xml" || o.verdictWall != 3*time.Second {
					return "verdict flags not read"
				}
				return ""
			}},
		// bench junit.xml would have run the whole benchmark instead of reporting on the file.
		{Name: "a report as an argument", Args: []string{"junit.xml"}, Code: 2,
			Stderr: "bench: unexpected argument \"junit.xml\"\nusage: bench [--scale"},
		{Name: "an unknown flag", Args: []string{"--scales", "1"}, Code: 2, Stderr: "flag provided but not defined: -scales\nusage: bench"},
		{Name: "help", Args: []string{"-h"}, Stderr: "usage: bench"},
	})
}
