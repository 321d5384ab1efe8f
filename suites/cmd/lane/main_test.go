package main

import (
	"testing"

	"github.com/backuppvc-conformance/harness/internal/cmdline/cmdlinetest"
)

func TestParseArgs(t *testing.T) {
	cmdlinetest.Run(t, parseArgs, []cmdlinetest.Case[options]{
		{Name: "no command", Code: 2, Stderr: "usage: lane up [--name N]"},
		{Name: "unknown command", Args: []string{"start"}, Code: 2, Stderr: "usage: lane up [--name N]"},
		{Name: "up", Args: []string{"up", "--name", "x", "--driver", "hostpath", "--artifacts", "/a"}, OK: true,
			Want: cmdlinetest.Equals(options{cmd: "up", name: "x", driver: "hostpath", artifacts: "/a"})},
		{Name: "down", Args: []string{"down", "--name", "x"}, OK: true, Want: cmdlinetest.Equals(options{cmd: "down", name: "x"})},
		{Name: "up with a name as an argument", Args: []string{"up", "x"}, Code: 2,
			Stderr: "lane up: unexpected argument \"x\"\nusage: lane up [--name N] [--driver PROFILE] [--artifacts DIR]\n"},
		{Name: "down with a name as an argument", Args: []string{"down", "--name", "x", "y"}, Code: 2,
			Stderr: "lane down: unexpected argument \"y\"\nusage: lane down [--name N]\n"},
		// down stops what up started by its name: a driver would be ignored.
		{Name: "down with a driver", Args: []string{"down", "--driver", "hostpath"}, Code: 2,
			Stderr: "flag provided but not defined: -driver\nusage: lane down [--name N]\n"},
	})
}
