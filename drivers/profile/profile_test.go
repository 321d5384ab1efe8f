package profile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

const valid = `apiVersion: conformance.backuppvc.io/v1alpha1
kind: DriverProfile
name: x
driver: csi.example.com
lanes: [existing]
storageClasses:
  - name: src
    role: source
  - name: bk
    role: backup
snapshotClass: {name: snap}
capabilities: {readOnlyManyFromSnapshot: true}
`

// withLocal is the valid profile on the local lane with a local section of the given fields.
func withLocal(fields ...string) string {
	doc := strings.Replace(valid, "[existing]", "[local]", 1) + "local:\n"
	for _, f := range fields {
		doc += "  " + strings.TrimSuffix(f, "\n") + "\n"
	}
	return doc
}

// seq is a block sequence field, as profiles write them: placeholders' braces are flow
// indicators in YAML's [a, b] form.
func seq(key string, items ...string) string {
	out := key + ":"
	for _, it := range items {
		out += "\n    - " + it
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{name: "valid", doc: valid},
		{name: "misspelled field names it and its line", doc: strings.Replace(valid, "  - name: bk\n    role: backup", "  - name: bk\n    rol: backup", 1),
			wantErr: `line 10: field rol not found`},
		{name: "misspelled capability", doc: strings.Replace(valid, "readOnlyManyFromSnapshot:", "readOnlyManyFromSnapshots:", 1),
			wantErr: "line 12: field readOnlyManyFromSnapshots not found"},
		{name: "unknown top-level field", doc: valid + "timeout: {prepare: 5s}\n", wantErr: "line 13: field timeout not found"},
		{name: "bad duration has its line", doc: valid + "timeouts: {prepare: soon}\n", wantErr: `line 13: "soon" is not a positive duration`},
		{name: "unknown role", doc: strings.Replace(valid, "role: backup", "role: backups", 1), wantErr: `unknown role "backups"`},
		{name: "no source", doc: strings.Replace(valid, "role: source", "role: slowClone", 1), wantErr: "exactly one class must have role source, found 0"},
		{name: "unknown lane", doc: strings.Replace(valid, "[existing]", "[cloud]", 1), wantErr: `unknown lane "cloud"`},
		{name: "local lane needs a local section", doc: strings.Replace(valid, "[existing]", "[local]", 1), wantErr: "local (a package or a command) is required"},
		{name: "local with a package", doc: withLocal("package: ./drivers/emulator/cmd/csi-emulator", seq("args", "--endpoint={{endpoint}}"))},
		{name: "local with a command", doc: withLocal(seq("command", "${X_PLUGIN}", "--endpoint={{endpoint}}", "--node={{node}}", "--name={{driver}}", "--dir={{stateDir}}"),
			"needs: give X_PLUGIN=/path")},
		{name: "local with package and command", doc: withLocal("package: ./x", seq("command", "/bin/x", "--endpoint={{endpoint}}")),
			wantErr: "give exactly one of package (a program of this repository) and command"},
		{name: "local with neither", doc: withLocal(seq("args", "--endpoint={{endpoint}}")), wantErr: "give exactly one of package"},
		{name: "empty binary", doc: withLocal(seq("command", "''", "--endpoint={{endpoint}}")), wantErr: "its first element is the binary"},
		{name: "unknown placeholder names it and the known ones", doc: withLocal(seq("command", "/bin/x", "--endpoint={{endpoint}}", "--node-id={{nodeName}}")),
			wantErr: "local.command[2]: unknown placeholder {{nodeName}} (known: {{endpoint}}, {{node}}, {{driver}}, {{stateDir}}, {{statusSocket}})"},
		{name: "unknown placeholder in args", doc: withLocal("package: ./x", seq("args", "--endpoint={{endpoint}}", "--x={{ driver }}")),
			wantErr: "local.args[1]: unknown placeholder {{ driver }}"},
		{name: "no endpoint", doc: withLocal(seq("command", "/bin/x", "--node={{node}}")), wantErr: "must pass {{endpoint}}"},
		{name: "extra drivers need the driver name", doc: withLocal(seq("command", "/bin/x", "--endpoint={{endpoint}}"), seq("extraDrivers", "other.example.com")),
			wantErr: "command or args must pass {{driver}}"},
		{name: "needs describes a command", doc: withLocal("package: ./x", seq("args", "--endpoint={{endpoint}}"), "needs: a binary"),
			wantErr: "local.needs describes command's binary"},
		{name: "placeholder in a flow sequence says how to write it", doc: withLocal("command: [/bin/x, --endpoint={{endpoint}}]"),
			wantErr: "a {{placeholder}} inside [a, b] needs quotes"},
		{name: "misspelled local field", doc: withLocal(seq("comand", "/bin/x")), wantErr: "field comand not found"},
		{name: "capability without its class", doc: strings.Replace(valid, "role: backup", "role: slowClone", 1), wantErr: "needs a class with role backup"},
		{name: "other driver must differ", doc: strings.Replace(valid, "role: backup", "role: otherDriver", 1), wantErr: "needs a provisioner other than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c, _ := p.Class(RoleSource); c.Provisioner != "csi.example.com" || p.SnapshotClass.DeletionPolicy != "Delete" || p.Timeouts.Prepare.Seconds() != 10 {
					t.Errorf("defaults not applied: %+v", p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestShippedProfilesLoad(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(toolchain.RepoRoot(), "drivers", "*", "profile.yaml"))
	if len(paths) < 3 {
		t.Fatalf("found %d profiles, want emulator, hostpath and template", len(paths))
	}
	for _, p := range paths {
		if _, err := Load(p); err != nil {
			t.Errorf("%v", err)
		}
	}
	if _, err := Find(toolchain.RepoRoot(), "nope"); err == nil || !strings.Contains(err.Error(), "emulator") {
		t.Errorf("unknown profile error %v should list the known ones", err)
	}
}

func TestLocalArgv(t *testing.T) {
	ph := Placeholders{Endpoint: "unix:///w/csi/d.sock", Node: "kwok-node-0", Driver: "d.example.com", StateDir: "/w/state/d", StatusSocket: "/w/csi/d.status.sock"}
	tests := []struct {
		name  string
		local Local
		ph    Placeholders
		want  []string
	}{
		{name: "package: args filled in", local: Local{Package: "./x", Args: []string{"--endpoint={{endpoint}}", "--driver-name={{driver}}", "--capacity=2Ti"}},
			ph: ph, want: []string{"--endpoint=unix:///w/csi/d.sock", "--driver-name=d.example.com", "--capacity=2Ti"}},
		{name: "command: its arguments, then args, the binary left out", local: Local{Command: []string{"${BIN}", "--nodeid={{node}}", "--statedir={{stateDir}}"}, Args: []string{"--v=5"}},
			ph: ph, want: []string{"--nodeid=kwok-node-0", "--statedir=/w/state/d", "--v=5"}},
		{name: "placeholder inside a value", local: Local{Package: "./x", Args: []string{"--status-address=unix://{{statusSocket}}", "--id={{driver}}@{{node}}"}},
			ph: ph, want: []string{"--status-address=unix:///w/csi/d.status.sock", "--id=d.example.com@kwok-node-0"}},
		{name: "a placeholder without a value drops its argument", local: Local{Package: "./x", Args: []string{"--endpoint={{endpoint}}", "--status-address=unix://{{statusSocket}}", "--node-id={{node}}", "--v=2"}},
			ph: Placeholders{Endpoint: "unix:///csi/csi.sock"}, want: []string{"--endpoint=unix:///csi/csi.sock", "--v=2"}},
		{name: "arguments without placeholders untouched", local: Local{Package: "./x", Args: []string{"--x={a}", "$HOME"}},
			ph: ph, want: []string{"--x={a}", "$HOME"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.local.Argv(tc.ph); !slices.Equal(got, tc.want) {
				t.Errorf("Argv = %q, want %q", got, tc.want)
			}
		})
	}
	l := Local{Command: []string{"/bin/x", "--endpoint={{endpoint}}"}, Args: []string{"--s={{statusSocket}}"}}
	if !l.Uses("statusSocket") || !l.Uses("endpoint") || l.Uses("node") {
		t.Errorf("Uses: statusSocket %v endpoint %v node %v", l.Uses("statusSocket"), l.Uses("endpoint"), l.Uses("node"))
	}
}

func TestLocalBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "plugin")
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PLUGIN": exe, "DIR": dir, "EMPTY": "", "MISSING": filepath.Join(dir, "nope"), "PLAIN": plain}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	const needs = "it runs the x plugin: give PLUGIN=/path/to/plugin"
	tests := []struct {
		name    string
		bin     string
		want    string
		wantErr []string
	}{
		{name: "variable expanded", bin: "${PLUGIN}", want: exe},
		{name: "bare variable and text around it", bin: "$DIR/plugin", want: exe},
		{name: "literal path", bin: exe, want: exe},
		{name: "bare name found in PATH", bin: "sh", want: "/sh"},
		{name: "unset variable", bin: "${HOSTPATH_PLUGIN}", wantErr: []string{"profile p: HOSTPATH_PLUGIN not set (local.command names ${HOSTPATH_PLUGIN}); " + needs}},
		{name: "empty variable", bin: "${EMPTY}", wantErr: []string{"EMPTY not set", needs}},
		{name: "every unset variable named", bin: "${A}/${B}", wantErr: []string{"A, B not set"}},
		{name: "variable naming a missing file", bin: "${MISSING}", wantErr: []string{"profile p: " + env["MISSING"] + " (from ${MISSING}) does not exist; " + needs}},
		{name: "missing literal path", bin: "/no/such/plugin", wantErr: []string{"profile p: /no/such/plugin does not exist"}},
		{name: "not executable", bin: "${PLAIN}", wantErr: []string{plain + " (from ${PLAIN}) is not an executable file"}},
		{name: "a folder", bin: "${DIR}", wantErr: []string{"is not an executable file"}},
		{name: "bare name not in PATH", bin: "no-such-plugin-here", wantErr: []string{"no-such-plugin-here is not in PATH; " + needs}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Local{Command: []string{tc.bin, "--endpoint={{endpoint}}"}, Needs: needs}
			got, err := l.Binary("p", getenv)
			if tc.wantErr == nil {
				if err != nil || !strings.HasSuffix(got, tc.want) {
					t.Fatalf("Binary = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Binary = %q, want an error", got)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// The hostpath profile runs upstream's plugin on the local lane from HOSTPATH_PLUGIN, and says so
// in one line without it; the emulator's flags are its profile's.
func TestShippedLocalSections(t *testing.T) {
	hp, err := Find(toolchain.RepoRoot(), "hostpath")
	if err != nil {
		t.Fatal(err)
	}
	if !hp.SupportsLane("local") || hp.Local == nil || hp.Local.Package != "" || hp.Timeouts.Prepare.Seconds() != 30 {
		t.Fatalf("hostpath profile: lanes %v, local %+v, prepare %v", hp.Lanes, hp.Local, hp.Timeouts.Prepare)
	}
	_, err = hp.Local.Binary(hp.Name, func(string) (string, bool) { return "", false })
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "give HOSTPATH_PLUGIN=/path/to/hostpathplugin") {
		t.Errorf("without HOSTPATH_PLUGIN: %v", err)
	}
	args := hp.Local.Argv(Placeholders{Endpoint: "unix:///s", Node: "n", Driver: hp.Driver, StateDir: "/d", StatusSocket: "/st"})
	for _, want := range []string{"--endpoint=unix:///s", "--nodeid=n", "--drivername=hostpath.csi.k8s.io", "--statedir=/d", "--enable-topology=false"} {
		if !slices.Contains(args, want) {
			t.Errorf("hostpath arguments %q lack %s", args, want)
		}
	}
	if hp.Local.Uses("statusSocket") {
		t.Error("hostpath serves no status page")
	}
	em, err := Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	if em.Local.Package == "" || !em.Local.Uses("statusSocket") || !em.Local.Uses("node") || !em.Local.Uses("stateDir") {
		t.Errorf("emulator local section %+v", em.Local)
	}
}
