package doctor

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// Bad input: one clear line each, exit 2, nothing asked of a cluster.
func TestCommandBadInput(t *testing.T) {
	unreachable := func() (*rest.Config, error) { return &rest.Config{Host: "https://127.0.0.1:1"}, nil }
	tests := []struct {
		name string
		args []string
		want string // stderr's first line
	}{
		{"extra argument", []string{"extra"}, `backuppvc doctor: unexpected argument "extra"`},
		{"entries to probe after --probe", []string{"--probe", "gold", "silver"}, `backuppvc doctor: unexpected argument "gold" (to probe named entries write --probe=gold,silver)`},
		{"empty --probe=", []string{"--probe="}, `backuppvc doctor: invalid boolean value "" for -probe: name the entries: --probe=SOURCECLASS,... (or --probe for all)`},
		{"bad output", []string{"-o", "yaml"}, `backuppvc doctor: -o must be text or json, got "yaml"`},
		{"bad timeout", []string{"--timeout", "0s"}, "backuppvc doctor: --timeout must be positive, got 0s"},
		{"bad size", []string{"--probe-size", "big"}, `backuppvc doctor: --probe-size "big" is not a positive quantity such as 1Gi`},
		{"missing profile", []string{"--profile", "/nonexistent/profile.yaml"}, "backuppvc doctor: profile: open /nonexistent/profile.yaml: no such file or directory"},
		{"unknown flag", []string{"--frobnicate"}, "backuppvc doctor: flag provided but not defined: -frobnicate"},
		{"an API server that does not answer", nil, "backuppvc doctor: the API server at https://127.0.0.1:1 does not answer: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut, unreachable)
			if code != ExitUnchecked {
				t.Errorf("exit %d, want 2", code)
			}
			first, _, _ := strings.Cut(errOut.String(), "\n")
			if !strings.HasPrefix(first, tt.want) {
				t.Errorf("stderr %q, want it to start with %q", errOut.String(), tt.want)
			}
			if lines := strings.Count(errOut.String(), "\n"); lines > 2 {
				t.Errorf("stderr has %d lines: one for the error, one for the usage", lines)
			}
			if out.Len() > 0 {
				t.Errorf("stdout %q: no report for bad input", out.String())
			}
		})
	}
}

func TestCommandHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errOut, nil); code != 0 {
		t.Errorf("exit %d", code)
	}
	if !strings.HasPrefix(out.String(), Usage+"\n") || !strings.Contains(out.String(), "-probe") || errOut.Len() > 0 {
		t.Errorf("help %q, stderr %q", out.String(), errOut.String())
	}
}

func TestProbeFlag(t *testing.T) {
	var f probeFlag
	for _, v := range []string{"true", "a, b,", "false", "c"} {
		if err := f.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if !f.on || f.String() != "c" {
		t.Errorf("probe flag %+v", f)
	}
}
