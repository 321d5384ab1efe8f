package conformance

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// A PodFailer lane fails the backupPods of the Canceled scenario (D3) and of no other: their
// Backups, whose names start the DataUploads' and so the backupPods', are the only ones with its
// prefix.
func TestOnlyTheCanceledScenarioHasUnrecoverablePods(t *testing.T) {
	p := &profile.Profile{Name: "p", Driver: "d", StorageClasses: []profile.StorageClass{{Name: "src", Role: profile.RoleSource}}}
	canceled := 0
	for _, sc := range Scenarios(p) {
		unrecoverable := strings.HasPrefix(sc.BackupName("r1", 0), lane.UnrecoverablePodPrefix)
		if unrecoverable != (sc.Outcome == Canceled) {
			t.Errorf("scenario %s: outcome %s, its backupPod unrecoverable %v", sc.Name, sc.Outcome, unrecoverable)
		}
		if sc.Outcome == Canceled {
			canceled++
		}
	}
	if canceled == 0 {
		t.Error("no scenario has its backupPod fail (D3)")
	}
}

// The ConfigMap one run serves every scenario with, decoded as Velero decodes it (encoding/json,
// keys case-insensitive): one entry per scenario that has one, under the scenario's own source
// class, with the profile's classes in place of the placeholders.
func TestNodeAgentConfigServesEveryScenario(t *testing.T) {
	p := &profile.Profile{Name: "p", Driver: "d", Capabilities: profile.Capabilities{ReadOnlyManyFromSnapshot: true},
		StorageClasses: []profile.StorageClass{{Name: "src", Role: profile.RoleSource}, {Name: "fast", Role: profile.RoleBackup},
			{Name: "norox", Role: profile.RoleRefusesReadOnly}, {Name: "foreign", Role: profile.RoleOtherDriver}}}
	scenarios := Scenarios(p)
	classes := ClassesFor(p, "r1")
	doc := NodeAgentConfig(scenarios, "r1", classes, "node-a")
	var cfg struct {
		LoadAffinity []struct {
			NodeSelector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"nodeSelector"`
			StorageClass string `json:"storageClass"`
		} `json:"loadAffinity"`
		LoadConcurrency struct {
			GlobalConfig int `json:"globalConfig"`
		} `json:"loadConcurrency"`
		BackupPVC map[string]struct {
			StorageClass    string `json:"storageClass"`
			ReadOnly        bool   `json:"readOnly"`
			SPCNoRelabeling bool   `json:"spcNoRelabeling"`
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
		// B9: spc_t only with readOnly and spcNoRelabeling both.
		if sc.WantSPC != (e.ReadOnly && e.SPCNoRelabeling) {
			t.Errorf("scenario %s: wants spc_t %v, its entry has readOnly %v spcNoRelabeling %v", sc.Name, sc.WantSPC, e.ReadOnly, e.SPCNoRelabeling)
		}
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
	// C5: the affine backup class requires node-a; the affinity scenario's source class a node
	// that does not exist, so a system matching by the source class sends its backupPod nowhere.
	affinity := map[string]string{}
	for _, a := range cfg.LoadAffinity {
		affinity[a.StorageClass] = a.NodeSelector.MatchLabels[HostnameLabel]
	}
	if want := map[string]string{classes.Affine: "node-a", "bpvc-r1-load-affinity": NoSuchNode("r1")}; !maps.Equal(affinity, want) {
		t.Errorf("loadAffinity by class %v, want %v", affinity, want)
	}
	if cfg.BackupPVC["bpvc-r1-load-affinity"].StorageClass != classes.Affine || classes.Affine == classes.Backup {
		t.Errorf("the affinity scenario's backupPVC class %q, want its own alias %q", cfg.BackupPVC["bpvc-r1-load-affinity"].StorageClass, classes.Affine)
	}
	if strings.Contains(NodeAgentConfig(scenarios, "r1", classes, ""), "loadAffinity") {
		t.Error("loadAffinity without a node to require")
	}
	if got := cfg.BackupPVC["bpvc-r1-missing-class"].StorageClass; got != classes.Missing {
		t.Errorf("missing-class points at %s, want a class no cluster has (%s)", got, classes.Missing)
	}
}

// The spec items issue 14 asked for each have their scenario: the documentation's sample entry
// (readOnly alone: source class, ReadOnlyMany), spcNoRelabeling with and without readOnly, and
// a restoreSize other than the source's request.
func TestScenariosForB3B4B7B9(t *testing.T) {
	p := &profile.Profile{Name: "p", Driver: "d", Capabilities: profile.Capabilities{ReadOnlyManyFromSnapshot: true},
		StorageClasses: []profile.StorageClass{{Name: "src", Role: profile.RoleSource}, {Name: "fast", Role: profile.RoleBackup}}}
	byName := map[string]Scenario{}
	for _, sc := range Scenarios(p) {
		byName[sc.Name] = sc
	}
	classes := ClassesFor(p, "r1")
	if sc := byName["read-only-source"]; sc.Entry != `{"readOnly": true}` || sc.BackupClass("r1", classes) != sc.SourceClass("r1") || sc.WantMode != corev1.ReadOnlyMany {
		t.Errorf("read-only-source: %+v", sc)
	}
	if sc := byName["spc-read-only"]; !sc.WantSPC || sc.WantMode != corev1.ReadOnlyMany {
		t.Errorf("spc-read-only: %+v", sc)
	}
	if sc := byName["spc-read-write"]; sc.WantSPC || sc.WantMode != corev1.ReadWriteOnce || !strings.Contains(sc.Entry, "spcNoRelabeling") {
		t.Errorf("spc-read-write: %+v", sc)
	}
	sc := byName["restore-size"]
	if sc.RestoreSize == "" {
		t.Fatal("restore-size: no RestoreSize")
	}
	if want, src := resource.MustParse(sc.RestoreSize), resource.MustParse(sourceSize); want.Cmp(src) == 0 {
		t.Fatalf("restore-size: restoreSize %q must differ from the source's %s", sc.RestoreSize, sourceSize)
	}
	base := map[string]string{"replicas": "3"}
	if got := sc.SourceParameters(p, base); !maps.Equal(got, base) {
		t.Errorf("without a restoreSizeParameter the source class keeps the profile's parameters, got %v", got)
	}
	p.Capabilities.RestoreSizeParameter = "snapshotRestoreSize"
	if got := sc.SourceParameters(p, base); !maps.Equal(got, map[string]string{"replicas": "3", "snapshotRestoreSize": sc.RestoreSize}) {
		t.Errorf("SourceParameters = %v", got)
	}
	if len(base) != 1 {
		t.Errorf("SourceParameters changed the profile's parameters: %v", base)
	}
	if got := byName["no-entry"].SourceParameters(p, nil); len(got) != 0 {
		t.Errorf("a scenario without RestoreSize gets %v", got)
	}
}
