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
)

// NodeAgentConfigs is Velero's own type (spec A1); this package only decides how it is read.
type NodeAgentConfigs = velerotypes.NodeAgentConfigs

// BackupPVC is Velero's per-source-storage-class backupPVC entry (spec A2).
type BackupPVC = velerotypes.BackupPVC

// ErrInvalid marks every rejection Velero's node-agent would also make (it exits on them, spec A4).
var ErrInvalid = errors.New("invalid node-agent config")

// Load reads the node-agent ConfigMap namespace/name once (spec A3). An empty name means no
// ConfigMap was configured: Velero then runs with no backupPVC config at all (spec A6).
func Load(ctx context.Context, c client.Reader, namespace, name string) (*NodeAgentConfigs, error) {
	if name == "" {
		return &NodeAgentConfigs{}, nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("config: ConfigMap %s/%s not found: create it or drop --node-agent-configmap: %w", namespace, name, ErrInvalid)
		}
		return nil, fmt.Errorf("config: get ConfigMap %s/%s: %w", namespace, name, err)
	}
	return FromConfigMap(cm)
}

// FromConfigMap applies Velero's rules to a ConfigMap (spec A4): the data must hold exactly one
// key, whatever its name, whose value is the JSON document.
func FromConfigMap(cm *corev1.ConfigMap) (*NodeAgentConfigs, error) {
	ref := cm.Namespace + "/" + cm.Name
	switch {
	case len(cm.Data) == 0 && len(cm.BinaryData) > 0:
		return nil, fmt.Errorf("config: ConfigMap %s has only binaryData; Velero reads only data: put the JSON under data: %w", ref, ErrInvalid)
	case cm.Data == nil:
		return nil, fmt.Errorf("config: ConfigMap %s has no data; Velero needs exactly one data key holding the JSON document: %w", ref, ErrInvalid)
	case len(cm.Data) > 1:
		return nil, fmt.Errorf("config: ConfigMap %s has %d data keys %v; Velero's node-agent accepts exactly one (velero install does not check this): %w",
			ref, len(cm.Data), slices.Sorted(maps.Keys(cm.Data)), ErrInvalid)
	}
	for key, doc := range cm.Data {
		cfg, err := Parse([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("config: ConfigMap %s key %q: %w", ref, key, err)
		}
		return cfg, nil
	}
	// An empty non-nil map: Velero unmarshals the empty string and fails.
	return nil, fmt.Errorf("config: ConfigMap %s has an empty data map; Velero needs exactly one data key holding the JSON document: %w", ref, ErrInvalid)
}

// Parse decodes a node-agent config document exactly as Velero does: plain encoding/json, so
// unknown fields are ignored, keys match case-insensitively and the last duplicate wins (spec A5).
func Parse(doc []byte) (*NodeAgentConfigs, error) {
	cfg := &NodeAgentConfigs{}
	if err := json.Unmarshal(doc, cfg); err != nil {
		return nil, fmt.Errorf("%w: %v (run the lint for the exact JSON path)", ErrInvalid, err)
	}
	return cfg, nil
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
