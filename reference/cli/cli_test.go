package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLintCommand(t *testing.T) {
	dir := t.TempDir()
	cmFile := filepath.Join(dir, "cm.yaml")
	if err := os.WriteFile(cmFile, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: node-agent, namespace: velero}\ndata:\n  c.json: '{\"backupPVC\":{\"gold\":{\"storageclass\":\"b\"}}}'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string
	}{
		{name: "clean document", args: []string{"lint"}, stdin: `{"backupPVC":{"gold":{"readOnly":true}}}`, wantOut: "no findings"},
		{name: "A5 error exits 1", args: []string{"lint"}, stdin: `{"backupPVC":{"gold":{"readOnly":"yes"}}}`, wantCode: 1, wantOut: "error $.backupPVC.gold.readOnly"},
		{name: "warnings exit 0", args: []string{"lint"}, stdin: `{"backupPVC":{"gold":{"readonly":true}}}`, wantOut: "warning $.backupPVC.gold.readonly"},
		{name: "warnings fail with --fail-on warning", args: []string{"lint", "--fail-on", "warning"}, stdin: `{"backupPVC":{"gold":{"readonly":true}}}`, wantCode: 1},
		{name: "ConfigMap file", args: []string{"lint", "-f", cmFile}, wantOut: `warning data["c.json"].backupPVC.gold.storageclass`},
		{name: "ConfigMap without kind, as a typed client marshals it", args: []string{"lint"},
			stdin:   `{"metadata":{"name":"x"},"data":{"c.json":"{\"backupPVC\":{\"g\":{\"readonly\":true}}}"}}`,
			wantOut: `warning data["c.json"].backupPVC.g.readonly`},
		{name: "missing file", args: []string{"lint", "-f", filepath.Join(dir, "nope")}, wantCode: 1},
		// As people type it: the file as an argument, flags before or after it.
		{name: "file as an argument", args: []string{"lint", cmFile}, stdin: "not read", wantOut: `warning data["c.json"].backupPVC.gold.storageclass`},
		{name: "flags after the file", args: []string{"lint", cmFile, "--fail-on", "warning"}, stdin: "not read", wantCode: 1},
		{name: "missing file as an argument", args: []string{"lint", filepath.Join(dir, "nope")}, wantCode: 1},
		{name: "two files", args: []string{"lint", cmFile, cmFile + "2"}, wantCode: 2},
		{name: "a file and another -f", args: []string{"lint", "-f", cmFile + "2", cmFile}, wantCode: 2},
		{name: "- as the argument: standard input", args: []string{"lint", "-"}, stdin: `{"backupPVC":{}}`, wantOut: "no findings"},
		{name: "-- ends the flags", args: []string{"lint", "--", cmFile}, wantOut: `warning data["c.json"].backupPVC.gold.storageclass`},
		{name: "run refuses arguments", args: []string{"run", "extra"}, wantCode: 2},
		{name: "bad output flag", args: []string{"lint", "-o", "xml"}, wantCode: 2},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2},
		{name: "no command", args: nil, wantCode: 2},
		{name: "run with bad log format", args: []string{"run", "--log-format", "xml"}, wantCode: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.wantCode, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("stdout %q lacks %q", out.String(), tc.wantOut)
			}
		})
	}
}

func TestLintCommandJSON(t *testing.T) {
	var out bytes.Buffer
	Main([]string{"lint", "-o", "json"}, strings.NewReader(`{"backupPVC":{"g":{"spcNoRelabeling":true}}}`), &out, &bytes.Buffer{})
	var findings []map[string]string
	if err := json.Unmarshal(out.Bytes(), &findings); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(findings) != 1 || findings[0]["path"] != "$.backupPVC.g.spcNoRelabeling" || findings[0]["severity"] != "warning" {
		t.Fatalf("findings %v", findings)
	}
}

// The two lint checks the conformance suites used to run (they test this tool, not a system
// under test): a ConfigMap as kubectl get -o json writes it, with keys matching only
// case-insensitively and an entry that changes nothing, gives warnings at those paths and exits
// 0; and the documentation's annotation sample is an error before Velero refuses it.
func TestLintFindsWhatVeleroAcceptsSilently(t *testing.T) {
	cm := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"node-agent-config","namespace":"velero"},` +
		`"data":{"node-agent-config.json":"{\"backupPVC\":{\"src-ci\":{\"StorageClass\":\"b\",\"readonly\":true},\"src-empty\":{\"storageClass\":\"\"}}}"}}`
	var out bytes.Buffer
	if code := Main([]string{"lint", "-o", "json"}, strings.NewReader(cm), &out, &bytes.Buffer{}); code != 0 {
		t.Fatalf("exit %d, want 0 (warnings only): %s", code, out.String())
	}
	var findings []struct{ Path, Severity string }
	if err := json.Unmarshal(out.Bytes(), &findings); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.Severity+" "+f.Path)
	}
	alias := `data["node-agent-config.json"].backupPVC`
	for _, want := range []string{`warning ` + alias + `["src-ci"].StorageClass`, `warning ` + alias + `["src-ci"].readonly`, `warning ` + alias + `["src-empty"]`} {
		if !slices.Contains(got, want) {
			t.Errorf("findings %v lack %q", got, want)
		}
	}
}

func TestLintDocumentationSample(t *testing.T) {
	var out bytes.Buffer
	file := filepath.Join("..", "..", "fixtures", "configmaps", "doc-sample-annotation.yaml")
	if code := Main([]string{"lint", "-f", file}, nil, &out, &out); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out.String())
	}
	if want := `error data["config.json"].backupPVC.gold.annotations["fast-clone"]: annotation values must be strings`; !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out.String(), want)
	}
}
