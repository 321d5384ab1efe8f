package profile

import (
	"path/filepath"
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
		{name: "local lane needs a package", doc: strings.Replace(valid, "[existing]", "[local]", 1), wantErr: "local.package is required"},
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
