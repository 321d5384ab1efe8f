package main

import (
	"testing"

	"github.com/backuppvc-conformance/harness/internal/cmdline/cmdlinetest"
)

func TestParseArgs(t *testing.T) {
	cmdlinetest.Run(t, parseArgs, []cmdlinetest.Case[options]{
		{Name: "flags", Args: []string{"--endpoint=unix:///csi/csi.sock", "--driver-name=d", "--state-dir=/s", "--v=1"}, OK: true,
			Want: func(o options) string {
				if o.endpoint != "unix:///csi/csi.sock" || o.name != "d" || o.stateDir != "/s" || o.verbose != 1 {
					return "flags not read"
				}
				return ""
			}},
		// A flag's value split off by a stray space would leave the flag at its default unnoticed.
		{Name: "an argument", Args: []string{"--driver-name=d", "/var/lib/x"}, Code: 2,
			Stderr: "csi-emulator: unexpected argument \"/var/lib/x\"\nusage: csi-emulator [--endpoint"},
		{Name: "an unknown flag", Args: []string{"--state=/s"}, Code: 2, Stderr: "flag provided but not defined: -state\nusage: csi-emulator"},
		{Name: "help", Args: []string{"-h"}, Stderr: "usage: csi-emulator"},
	})
}
