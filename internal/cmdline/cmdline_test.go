package cmdline

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOK     bool
		wantName   string
		wantStderr string
	}{
		{name: "no arguments", wantOK: true, wantName: "lane"},
		{name: "flags", args: []string{"--name", "x"}, wantOK: true, wantName: "x"},
		{name: "an argument", args: []string{"x"}, wantCode: 2,
			wantStderr: "demo: unexpected argument \"x\"\nusage: demo [--name N]\n"},
		{name: "an argument after the flags", args: []string{"--name", "x", "y", "z"}, wantCode: 2,
			wantStderr: "demo: unexpected argument \"y\"\nusage: demo [--name N]\n"},
		{name: "an unknown flag", args: []string{"--nmae", "x"}, wantCode: 2,
			wantStderr: "flag provided but not defined: -nmae\nusage: demo [--name N]\n  -name string"},
		{name: "help", args: []string{"-h"}, wantStderr: "usage: demo [--name N]\n  -name string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("demo", flag.ExitOnError) // Parse must not let the flag package exit
			name := fs.String("name", "lane", "the lane's name")
			var stderr bytes.Buffer
			code, ok := Parse(fs, "demo [--name N]", tt.args, &stderr)
			if code != tt.wantCode || ok != tt.wantOK {
				t.Fatalf("Parse(%q) = %d, %v, want %d, %v; stderr %q", tt.args, code, ok, tt.wantCode, tt.wantOK, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to start %q", stderr.String(), tt.wantStderr)
			}
			if tt.wantOK && *name != tt.wantName {
				t.Errorf("--name = %q, want %q", *name, tt.wantName)
			}
		})
	}
}
