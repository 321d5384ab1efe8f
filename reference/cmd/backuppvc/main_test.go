package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", wantCode: 2, wantStderr: "usage: backuppvc <command> [flags]"},
		{name: "help", args: []string{"help"}, wantStdout: "  doctor   check the backupPVC configuration"},
		{name: "unknown command", args: []string{"doctr"}, wantCode: 2, wantStderr: `backuppvc: unknown command "doctr"`},
		// lint is backuppvc-reference's lint, under this command's name.
		{name: "lint", args: []string{"lint"}, stdin: `{"backupPVC":{"gold":{"readonly":true}}}`, wantStdout: "warning $.backupPVC.gold.readonly"},
		{name: "lint error", args: []string{"lint", "-"}, stdin: `{"backupPVC":{"gold":{"readOnly":"yes"}}}`, wantCode: 1, wantStdout: "error $.backupPVC.gold.readOnly"},
		{name: "lint extra arguments", args: []string{"lint", "a", "b"}, wantCode: 2,
			wantStderr: "backuppvc lint: one file at a time, got [\"a\" \"b\"]\nusage: backuppvc lint [flags] [FILE]\n"},
		{name: "lint bad output", args: []string{"lint", "-o", "xml"}, wantCode: 2, wantStderr: `backuppvc lint: -o must be text or json, got "xml"`},
		{name: "doctor extra argument", args: []string{"doctor", "x"}, wantCode: 2, wantStderr: "backuppvc doctor: unexpected argument \"x\"\nusage: backuppvc doctor "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.wantCode, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantStdout) || !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("stdout %q (want %q), stderr %q (want %q)", out.String(), tt.wantStdout, errOut.String(), tt.wantStderr)
			}
		})
	}
}
