package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	caps := `{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_SYS_ADMIN"],"effective":["CAP_SYS_RESOURCE"],"permitted":["CAP_CHOWN"]}`
	want := map[string][]string{"bounding": {"CAP_CHOWN", "CAP_SYS_ADMIN"}, "effective": {}, "permitted": {"CAP_CHOWN"}}
	tests := []struct {
		name string
		args func(dir string) []string
		file string // the file the args point at, relative to dir
		doc  string
		key  string
	}{
		{"create with --bundle", func(d string) []string {
			return []string{"--root", "/run/runc", "--log", "x.log", "create", "--bundle", d, "--pid-file", "p", "id"}
		}, "config.json", `{"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":` + caps + `},"hostname":"n"}`, "process"},
		{"run with --bundle=", func(d string) []string { return []string{"run", "--bundle=" + d, "id"} },
			"config.json", `{"process":{"capabilities":` + caps + `}}`, "process"},
		{"exec with --process", func(d string) []string {
			return []string{"--root", "/r", "exec", "--process", filepath.Join(d, "p.json"), "--detach", "id"}
		}, "p.json", `{"args":["ls"],"capabilities":` + caps + `}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := rewrite(tt.args(dir)); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			data, _ := os.ReadFile(path)
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			process := got
			if tt.key != "" {
				process = got[tt.key].(map[string]any)
			}
			gotCaps := map[string][]string{}
			for k, v := range process["capabilities"].(map[string]any) {
				gotCaps[k] = []string{}
				for _, c := range v.([]any) {
					gotCaps[k] = append(gotCaps[k], c.(string))
				}
			}
			if !reflect.DeepEqual(gotCaps, want) {
				t.Errorf("capabilities = %v, want %v", gotCaps, want)
			}
			for field := range map[string]any{"ociVersion": 0, "hostname": 0, "args": 0} {
				if strings.Contains(tt.doc, `"`+field+`"`) && !strings.Contains(string(data), `"`+field+`"`) {
					t.Errorf("field %s lost: %s", field, data)
				}
			}
		})
	}
}

func TestRewriteLeavesOtherCommandsAlone(t *testing.T) {
	dir := t.TempDir()
	doc := `{"process":{"capabilities":{"bounding":["CAP_SYS_RESOURCE"]}}}`
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"delete", "--force", "id"}, {"state", "id"}, {"--version"}} {
		if err := rewrite(append(args, "--bundle", dir)); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(path); string(data) != doc {
		t.Errorf("file changed by a command that does not read it: %s", data)
	}
}
