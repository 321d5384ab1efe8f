package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/backuppvc-conformance/harness/drivers/profile"
)

// The ConfigMap one run serves every scenario with, decoded as Velero decodes it (encoding/json,
// keys case-insensitive): one entry per scenario that has one, under the scenario's own source
// class, with the profile's classes in place of the placeholders.
func TestNodeAgentConfigServesEveryScenario(t *testing.T) {
	p := &profile.Profile{Name: "p", Driver: "d", Capabilities: profile.Capabilities{ReadOnlyManyFromSnapshot: true},
		StorageClasses: []profile.StorageClass{{Name: "src", Role: profile.RoleSource}, {Name: "fast", Role: profile.RoleBackup},
			{Name: "norox", Role: profile.RoleRefusesReadOnly}, {Name: "foreign", Role: profile.RoleOtherDriver}}}
	scenarios := Scenarios(p)
	classes := ClassesFor(p, "r1")
	doc := NodeAgentConfig(scenarios, "r1", classes)
	var cfg struct {
		LoadConcurrency struct {
			GlobalConfig int `json:"globalConfig"`
		} `json:"loadConcurrency"`
		BackupPVC map[string]struct {
			StorageClass string `json:"storageClass"`
			ReadOnly     bool   `json:"readOnly"`
		} `json:"backupPVC"`
	}
	if err := json.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatalf("the run's ConfigMap is not what Velero decodes: %v\n%s", err, doc)
	}
	if cfg.LoadConcurrency.GlobalConfig < manyBackups {
		t.Errorf("loadConcurrency %d: the %d backups at once would be serialized", cfg.LoadConcurrency.GlobalConfig, manyBackups)
	}
	if strings.Contains(doc, "{{") {
		t.Errorf("a placeholder left in:\n%s", doc)
	}
	for _, sc := range scenarios {
		e, ok := cfg.BackupPVC[sc.SourceClass("r1")]
		if ok != (sc.Entry != "") {
			t.Errorf("scenario %s: entry present %v, want %v", sc.Name, ok, sc.Entry != "")
			continue
		}
		if !ok {
			continue
		}
		// What the scenario expects must follow from its own entry (B3, B4).
		if want := sc.BackupClass("r1", classes); e.StorageClass != "" && e.StorageClass != want {
			t.Errorf("scenario %s: entry class %s, expects the backupPVC in %s", sc.Name, e.StorageClass, want)
		}
		if e.StorageClass == "" && sc.BackupClass("r1", classes) != sc.SourceClass("r1") {
			t.Errorf("scenario %s: an empty storageClass must expect the source class", sc.Name)
		}
		if e.ReadOnly != (sc.WantMode == corev1.ReadOnlyMany) {
			t.Errorf("scenario %s: readOnly %v, expects %s", sc.Name, e.ReadOnly, sc.WantMode)
		}
	}
	if got := cfg.BackupPVC["bpvc-r1-missing-class"].StorageClass; got != classes.Missing {
		t.Errorf("missing-class points at %s, want a class no cluster has (%s)", got, classes.Missing)
	}
}
