package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	velerotypes "github.com/vmware-tanzu/velero/pkg/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// NodeAgentConfigs is Velero's own type (spec A1); this package only decides how it is read.
type NodeAgentConfigs = velerotypes.NodeAgentConfigs

// BackupPVC is Velero's per-source-storage-class backupPVC entry (spec A2).
type BackupPVC = velerotypes.BackupPVC

// ErrInvalid marks every rejection Velero's node-agent would also make (it exits on them, spec A4).
var ErrInvalid = errors.New("invalid node-agent config")

// Load reads the node-agent ConfigMap namespace/name once (spec A3). An empty name means no
// ConfigMap was configured: Velero then runs with no backupPVC config at all (spec A6).
//
// Every refusal starts with the words Velero v1.18.3's node-agent exits with
// (pkg/nodeagent.GetConfigs wrapped by the node-agent server), so that a person, or a spec, reads
// the same cause from either; what follows the semicolon is the reference's own advice.
func Load(ctx context.Context, c client.Reader, namespace, name string) (*NodeAgentConfigs, error) {
	if name == "" && mutant.Is("a6-default-name") {
		name = "node-agent-config" // negative control: with none named, a ConfigMap of the usual name is read (A6)
	}
	if name == "" {
		return &NodeAgentConfigs{}, nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("config: %s: error to get node agent configs %s: %v; create it in namespace %s or drop --node-agent-configmap: %w",
				veleroPrefix(name), name, err, namespace, ErrInvalid)
		}
		return nil, fmt.Errorf("config: %s: error to get node agent configs %s: %w", veleroPrefix(name), name, err)
	}
	return FromConfigMap(cm)
}

func veleroPrefix(name string) string {
	return "error getting node agent configs from configMap " + name
}

// FromConfigMap applies Velero's rules to a ConfigMap (spec A4): the data must hold exactly one
// key, whatever its name, whose value is the JSON document.
func FromConfigMap(cm *corev1.ConfigMap) (*NodeAgentConfigs, error) {
	ref, pre := cm.Namespace+"/"+cm.Name, veleroPrefix(cm.Name)
	switch {
	case cm.Data == nil && len(cm.BinaryData) > 0:
		return nil, fmt.Errorf("config: %s: data is not available in config map %s; it has only binaryData, and Velero reads only data: put the JSON under data: %w",
			pre, cm.Name, ErrInvalid)
	case cm.Data == nil:
		return nil, fmt.Errorf("config: %s: data is not available in config map %s; Velero needs exactly one data key holding the JSON document: %w", pre, cm.Name, ErrInvalid)
	case len(cm.Data) > 1 && !mutant.Is("a4-two-keys-accepted"): // negative control: several keys accepted (A4)
		return nil, fmt.Errorf("config: %s: more than one keys are found in ConfigMap %s's data. only expect one; %s has %d data keys %v (velero install does not check this): %w",
			pre, cm.Name, ref, len(cm.Data), slices.Sorted(maps.Keys(cm.Data)), ErrInvalid)
	}
	for _, key := range slices.Sorted(maps.Keys(cm.Data)) {
		cfg, err := Parse([]byte(cm.Data[key]))
		if err != nil {
			return nil, fmt.Errorf("config: %s: error to unmarshall configs from %s: %w (key %q of %s)", pre, cm.Name, err, key, ref)
		}
		return cfg, nil
	}
	// An empty non-nil map: Velero unmarshals the empty string and fails.
	return nil, fmt.Errorf("config: %s: error to unmarshall configs from %s: %w: unexpected end of JSON input (%s has an empty data map; Velero needs exactly one data key holding the JSON document)",
		pre, cm.Name, ErrInvalid, ref)
}

// Parse decodes a node-agent config document exactly as Velero does: plain encoding/json, so
// unknown fields are ignored, keys match case-insensitively and the last duplicate wins (spec A5).
func Parse(doc []byte) (*NodeAgentConfigs, error) {
	cfg := &NodeAgentConfigs{}
	if err := json.Unmarshal(doc, cfg); err != nil {
		// negative control: a type mismatch taken as the zero value, not refused (A5).
		var typeErr *json.UnmarshalTypeError
		if !(mutant.Is("a5-type-mismatch-ignored") && errors.As(err, &typeErr)) {
			return nil, fmt.Errorf("%w: %v (run the lint for the exact JSON path)", ErrInvalid, err)
		}
	}
	if mutant.Is("a5-case-sensitive-keys") {
		caseSensitiveEntries(cfg, doc)
	}
	return cfg, nil
}

// caseSensitiveEntries is a negative control (A5): an entry's storageClass and readOnly count only
// when spelled exactly so, as a case-sensitive decoder would read them.
func caseSensitiveEntries(cfg *NodeAgentConfigs, doc []byte) {
	var raw struct {
		BackupPVC map[string]map[string]json.RawMessage `json:"backupPVC"`
	}
	_ = json.Unmarshal(doc, &raw)
	for class, keys := range raw.BackupPVC {
		e := cfg.BackupPVCConfig[class]
		if _, ok := keys["storageClass"]; !ok {
			e.StorageClass = ""
		}
		if _, ok := keys["readOnly"]; !ok {
			e.ReadOnly = false
		}
		cfg.BackupPVCConfig[class] = e
	}
}

// EntryFor returns the backupPVC entry configured for a source storage class (spec B1: exact
// match on the source PVC's class, no wildcard).
func EntryFor(cfg *NodeAgentConfigs, sourceClass string) (BackupPVC, bool) {
	if cfg == nil {
		return BackupPVC{}, false
	}
	e, ok := cfg.BackupPVCConfig[sourceClass]
	return e, ok
}
