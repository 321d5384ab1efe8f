package conformance

import (
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/backuppvc-conformance/harness/drivers/profile"
)

// Outcome is how a scenario's backup should end.
type Outcome int

const (
	// Succeeds: DataUpload Completed, Backup Completed.
	Succeeds Outcome = iota
	// TimesOut: DataUpload Accepted until the prepare timeout, then Failed "timeout on preparing
	// data upload"; the Backup PartiallyFailed.
	TimesOut
	// Canceled: the backupPod fails before it runs (lane.PodFailer): the DataUpload Canceled
	// early, naming the pod's abnormal state; the Backup PartiallyFailed.
	Canceled
	// ExposeFails: the expose fails at once (a copy collides): the DataUpload Failed "error
	// exposing snapshot: ..."; the Backup PartiallyFailed.
	ExposeFails
)

func (o Outcome) String() string {
	return [...]string{"Completed", "prepare timeout", "Canceled", "expose error"}[o]
}

// Scenario is one backupPVC configuration and what it must do. Each scenario has its own source
// storage class (an alias of the profile's source class), because Velero looks the backupPVC
// configuration up by the source class: one node-agent ConfigMap then serves every scenario at
// once, and the specs run in parallel.
type Scenario struct {
	Name string
	// Entry is the JSON of the scenario's backupPVC entry, with {{backup}}, {{refusing}},
	// {{other}} and {{missing}} standing for the profile's classes; "" means no entry.
	Entry string
	// WantClass is the backupPVC's class: "" for the scenario's source class, or a placeholder.
	WantClass string
	WantMode  corev1.PersistentVolumeAccessMode
	Outcome   Outcome
	Block     bool
	Labels    []string
	// Needs names the profile role this scenario requires ("" for none).
	Needs string
	// WriteProbe: the backupPod's data mover tries to write into the volume and the spec checks
	// the outcome against WantMode (needs a real kubelet: the kind lane).
	WriteProbe bool
	// Scale is how many backups the scenario runs at once (0 or 1: one).
	Scale int
	// WantSPC: the backupPod's securityContext has seLinuxOptions.type spc_t (an effective
	// spcNoRelabeling: the entry's readOnly and spcNoRelabeling both); otherwise spc_t nowhere.
	WantSPC bool
	// RestoreSize, when set, is the size the scenario's source class makes the driver's snapshots
	// report (through the profile's restoreSizeParameter; the spec is skipped without one), other
	// than the source PVC's request, or "0" for none (the VolumeSnapshot has no restoreSize); the
	// spec checks the backupPVC's request against the original VolumeSnapshot's restoreSize, or
	// the source PVC's request without one (B7).
	RestoreSize string
	// CopyName names the Secret and the ConfigMap the spec puts in the source namespace, which
	// the entry's secretNames and configMapNames list (B10): copied into the Velero namespace,
	// labelled with the DataUpload's UID, removed at cleanup.
	CopyName string
	// Collide: a Secret named CopyName is in the Velero namespace before the backup, with the
	// source's data but not the DataUpload's copy: the expose must fail on the collision and leave
	// that Secret as it was.
	Collide bool
	// Restart: the spec kills the system under test (SIGKILL) before the prepare timeout (at
	// killAfter) and restarts it (sut.Killer); the timeout must still fire at the acceptedTimestamp
	// persisted before the kill plus the timeout (D7). The kill must not reach other specs: it
	// kills a second installation of its own where the system runs on the harness's machine, and
	// otherwise runs alone.
	Restart bool
	// Affinity: the ConfigMap's loadAffinity has an entry for the scenario's backup class
	// ({{affine}}) requiring one node, and one for its source class requiring a node that does
	// not exist; the backupPod must require the first (C5: matched against the backupPVC's class).
	Affinity bool
	// Doc cites the spec items the scenario checks.
	Doc string
}

// sourceSize is what every scenario's source PVC requests; restoreSize is the other size the
// restore-size scenario's source class makes the driver's snapshots report (B7).
const (
	sourceSize  = "1Gi"
	restoreSize = "2Gi"
)

// manyBackups is how many backups the scale scenario runs at once.
const manyBackups = 20

// Scenarios derives the scenarios and their expectations from the profile.
func Scenarios(p *profile.Profile) []Scenario {
	readOnlyOutcome := TimesOut
	if p.Capabilities.ReadOnlyManyFromSnapshot {
		readOnlyOutcome = Succeeds
	}
	return []Scenario{
		{Name: "no-entry", Entry: "", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Labels: []string{"defaultClass"}, Doc: "B1 B2: no entry for the source class: the source class, ReadWriteOnce"},
		{Name: "empty-class", Entry: `{"storageClass": ""}`, WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Labels: []string{"defaultClass"}, Doc: "B3: an entry with an empty storageClass falls back to the source class"},
		{Name: "override", Entry: `{"storageClass": "{{backup}}"}`, WantClass: "{{backup}}", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Labels: []string{"storageClass"}, Needs: profile.RoleBackup, Doc: "B4: storageClass override, no readOnly: ReadWriteOnce, provisioned through the override class"},
		{Name: "annotations", Entry: `{"storageClass": "{{backup}}", "annotations": {"backuppvc.io/entry": "annotations", "example.com/team": "storage"}}`,
			WantClass: "{{backup}}", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Labels: []string{"annotations"}, Needs: profile.RoleBackup, Doc: "B5: the entry's annotations, exactly those, on the backupPVC"},
		{Name: "read-only", Entry: `{"storageClass": "{{backup}}", "readOnly": true}`, WantClass: "{{backup}}", WantMode: corev1.ReadOnlyMany, Outcome: readOnlyOutcome,
			Labels: []string{"readOnly", "capability:readOnlyManyFromSnapshot"}, Needs: profile.RoleBackup, Doc: "B4 C2: readOnly: exactly [ReadOnlyMany], the backupPod's volume read-only"},
		{Name: "case-insensitive", Entry: `{"StorageClass": "{{backup}}", "readonly": true}`, WantClass: "{{backup}}", WantMode: corev1.ReadOnlyMany, Outcome: readOnlyOutcome,
			Labels: []string{"config", "readOnly"}, Needs: profile.RoleBackup, Doc: "A5: keys match case-insensitively (the lint warns)"},
		{Name: "read-only-source", Entry: `{"readOnly": true}`, WantMode: corev1.ReadOnlyMany, Outcome: readOnlyOutcome,
			Labels: []string{"readOnly", "capability:readOnlyManyFromSnapshot"}, Doc: "B3 B4: the documentation's sample entry, readOnly alone: the source class, exactly [ReadOnlyMany]"},
		{Name: "spc-read-only", Entry: `{"storageClass": "{{backup}}", "readOnly": true, "spcNoRelabeling": true}`, WantClass: "{{backup}}", WantMode: corev1.ReadOnlyMany,
			Outcome: readOnlyOutcome, WantSPC: true, Labels: []string{"spcNoRelabeling", "readOnly", "capability:readOnlyManyFromSnapshot"}, Needs: profile.RoleBackup,
			Doc: "B9 C3: spcNoRelabeling with readOnly: the backupPod's securityContext.seLinuxOptions.type spc_t"},
		{Name: "spc-read-write", Entry: `{"spcNoRelabeling": true}`, WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Labels: []string{"spcNoRelabeling"}, Doc: "B9 C3: spcNoRelabeling without readOnly is ignored: no spc_t in the backupPod"},
		{Name: "restore-size", Entry: "", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds, RestoreSize: restoreSize,
			Labels: []string{"restoreSize"}, Doc: fmt.Sprintf("B7: the backupPVC requests the original VolumeSnapshot's restoreSize (%s), not the source PVC's %s", restoreSize, sourceSize)},
		{Name: "restore-size-unset", Entry: "", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds, RestoreSize: "0",
			Labels: []string{"restoreSize"}, Doc: fmt.Sprintf("B7: a snapshot without restoreSize: the backupPVC requests the source PVC's %s", sourceSize)},
		{Name: "missing-class", Entry: `{"storageClass": "{{missing}}"}`, WantClass: "{{missing}}", WantMode: corev1.ReadWriteOnce, Outcome: TimesOut,
			Labels: []string{"negative", "prepareTimeout"}, Doc: "D4 D5 D6 E2: a class that does not exist: Accepted until the prepare timeout"},
		{Name: "refuses-read-only", Entry: `{"storageClass": "{{refusing}}", "readOnly": true}`, WantClass: "{{refusing}}", WantMode: corev1.ReadOnlyMany, Outcome: TimesOut,
			Labels: []string{"negative", "prepareTimeout", "readOnly"}, Needs: profile.RoleRefusesReadOnly, Doc: "D4 D5 E2: readOnly on a class that cannot make ReadOnlyMany from a snapshot"},
		{Name: "other-driver", Entry: `{"storageClass": "{{other}}"}`, WantClass: "{{other}}", WantMode: corev1.ReadWriteOnce, Outcome: TimesOut,
			Labels: []string{"negative", "prepareTimeout"}, Needs: profile.RoleOtherDriver, Doc: "D4 D5 E2: a class of another CSI driver, which refuses the snapshot"},
		{Name: "restart-while-accepted", Entry: `{"storageClass": "{{missing}}"}`, WantClass: "{{missing}}", WantMode: corev1.ReadWriteOnce, Outcome: TimesOut,
			Restart: true, Labels: []string{"negative", "prepareTimeout", "restart"},
			Doc: "D7: the system killed (SIGKILL) and restarted while the DataUpload waits: the timeout still fires at the persisted acceptedTimestamp + timeout"},
		{Name: "load-affinity", Entry: `{"storageClass": "{{affine}}"}`, WantClass: "{{affine}}", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Needs: profile.RoleBackup, Affinity: true, Labels: []string{"loadAffinity"},
			Doc: "C5: loadAffinity is matched against the backupPVC's class: the backupPod requires the node of that class's entry, not the source class's"},
		{Name: "copies", Entry: `{"storageClass": "{{backup}}", "secretNames": ["bpvc-copied"], "configMapNames": ["bpvc-copied"]}`, WantClass: "{{backup}}",
			WantMode: corev1.ReadWriteOnce, Outcome: Succeeds, Needs: profile.RoleBackup, CopyName: "bpvc-copied", Labels: []string{"copies"},
			Doc: "B10: secretNames and configMapNames: copied into the Velero namespace labelled with the DataUpload's UID, removed at cleanup"},
		{Name: "copy-collision", Entry: `{"secretNames": ["bpvc-collision"]}`, WantMode: corev1.ReadWriteOnce, Outcome: ExposeFails,
			CopyName: "bpvc-collision", Collide: true, Labels: []string{"negative", "copies"},
			Doc: "B10 D2 E1: a secret of that name in the Velero namespace, not the DataUpload's copy: the expose fails on the collision and leaves it"},
		// The name makes the backupPod's: lane.UnrecoverablePodPrefix.
		{Name: "unrecoverable-pod", Entry: "", WantMode: corev1.ReadWriteOnce, Outcome: Canceled,
			Labels: []string{"negative", "unrecoverablePod"}, Doc: "D3 E1 D6: a backupPod that fails before it runs: the DataUpload Canceled naming it, before the prepare timeout"},
		{Name: "block", Entry: `{"storageClass": "{{backup}}", "readOnly": true}`, WantClass: "{{backup}}", WantMode: corev1.ReadOnlyMany, Outcome: readOnlyOutcome, Block: true,
			Labels: []string{"block", "capability:block"}, Needs: profile.RoleBackup, Doc: "B6 C2: a Block source: a Block backupPVC attached as a device"},
		{Name: "write-read-only", Entry: `{"storageClass": "{{backup}}", "readOnly": true}`, WantClass: "{{backup}}", WantMode: corev1.ReadOnlyMany, Outcome: readOnlyOutcome,
			Labels: []string{"kubelet", "readOnly", "capability:readOnlyManyFromSnapshot"}, Needs: profile.RoleBackup, WriteProbe: true,
			Doc: "C2 (real kubelet): readOnly: the backupPod's write into the volume fails with a read-only file system error"},
		{Name: "write-writable", Entry: `{"storageClass": "{{backup}}"}`, WantClass: "{{backup}}", WantMode: corev1.ReadWriteOnce, Outcome: Succeeds,
			Labels: []string{"kubelet"}, Needs: profile.RoleBackup, WriteProbe: true,
			Doc: "C2 (real kubelet): no readOnly: the backupPod's write into the volume succeeds"},
		{Name: "many", Entry: `{"storageClass": "{{backup}}", "readOnly": true}`, WantClass: "{{backup}}", WantMode: corev1.ReadOnlyMany, Outcome: readOnlyOutcome,
			Labels: []string{"scale"}, Needs: profile.RoleBackup, Scale: manyBackups, Doc: fmt.Sprintf("%d backups at once", manyBackups)},
	}
}

// Classes are the concrete class names the placeholders stand for in one run.
type Classes struct {
	Backup, Refusing, Other, Missing string
	// Affine is this run's alias of the backup class that the ConfigMap's loadAffinity names
	// (C5); "" without a backup class.
	Affine string
}

// ClassesFor picks the profile's classes; Missing is a name no cluster has.
func ClassesFor(p *profile.Profile, runID string) Classes {
	c := Classes{Missing: "bpvc-missing-" + runID}
	if sc, ok := p.Class(profile.RoleBackup); ok {
		c.Backup, c.Affine = sc.Name, "bpvc-affine-"+runID
	}
	if sc, ok := p.Class(profile.RoleRefusesReadOnly); ok {
		c.Refusing = sc.Name
	}
	if sc, ok := p.Class(profile.RoleOtherDriver); ok {
		c.Other = sc.Name
	}
	return c
}

func (c Classes) expand(s string) string {
	return strings.NewReplacer("{{backup}}", c.Backup, "{{refusing}}", c.Refusing, "{{other}}", c.Other, "{{missing}}", c.Missing, "{{affine}}", c.Affine).Replace(s)
}

// SourceClass is the scenario's alias of the profile's source class.
func (s Scenario) SourceClass(runID string) string { return fmt.Sprintf("bpvc-%s-%s", runID, s.Name) }

// BackupName is the name of the scenario's i-th Backup in a run. Velero names the DataUpload
// after it and the backupPod after the DataUpload, so the Canceled scenario's starts with
// lane.UnrecoverablePodPrefix.
func (s Scenario) BackupName(runID string, i int) string {
	return fmt.Sprintf("%s-%d-%s", s.Name, i, runID)
}

// SourceParameters are the parameters of the scenario's source class: the profile's source
// class's (base), and the profile's restoreSizeParameter when the scenario has a RestoreSize.
func (s Scenario) SourceParameters(p *profile.Profile, base map[string]string) map[string]string {
	out := maps.Clone(base)
	if s.RestoreSize != "" && p.Capabilities.RestoreSizeParameter != "" {
		if out == nil {
			out = map[string]string{}
		}
		out[p.Capabilities.RestoreSizeParameter] = s.RestoreSize
	}
	return out
}

// BackupClass is the class the scenario's backupPVC must have.
func (s Scenario) BackupClass(runID string, c Classes) string {
	if s.WantClass == "" {
		return s.SourceClass(runID)
	}
	return c.expand(s.WantClass)
}

// dataPathConcurrency is the node-agent ConfigMap's loadConcurrency: Velero runs one data path at a
// time per node by default, which would serialize the scale scenario's backups.
const dataPathConcurrency = 2 * manyBackups

// NodeAgentConfig is the node-agent ConfigMap document for all scenarios of a run; hostname is
// the node the affinity scenario's backupPods must require ("": no loadAffinity).
func NodeAgentConfig(scenarios []Scenario, runID string, c Classes, hostname string) string {
	var entries, affinities []string
	for _, s := range scenarios {
		if s.Entry == "" {
			continue
		}
		entries = append(entries, fmt.Sprintf("    %q: %s", s.SourceClass(runID), c.expand(s.Entry)))
		if s.Affinity && hostname != "" {
			affinities = append(affinities, affinityEntry(hostname, c.Affine), affinityEntry(NoSuchNode(runID), s.SourceClass(runID)))
		}
	}
	affinity := ""
	if len(affinities) > 0 {
		affinity = fmt.Sprintf("  \"loadAffinity\": [\n%s\n  ],\n", strings.Join(affinities, ",\n"))
	}
	return fmt.Sprintf("{\n  \"loadConcurrency\": {\"globalConfig\": %d},\n%s  \"backupPVC\": {\n%s\n  }\n}\n", dataPathConcurrency, affinity, strings.Join(entries, ",\n"))
}

// HostnameLabel is the node label loadAffinity selects by in the C5 scenario.
const HostnameLabel = "kubernetes.io/hostname"

// NoSuchNode is a hostname no node of the run's cluster has.
func NoSuchNode(runID string) string { return "bpvc-no-such-node-" + runID }

func affinityEntry(hostname, class string) string {
	return fmt.Sprintf("    {\"nodeSelector\": {\"matchLabels\": {%q: %q}}, \"storageClass\": %q}", HostnameLabel, hostname, class)
}
