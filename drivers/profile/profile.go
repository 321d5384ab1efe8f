package profile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// APIVersion and Kind every profile declares.
const (
	APIVersion = "conformance.backuppvc.io/v1alpha1"
	Kind       = "DriverProfile"
)

// Roles a StorageClass plays in the suites.
const (
	// RoleSource: the workload's class (the backupPVC config key). Exactly one.
	RoleSource = "source"
	// RoleBackup: a class for the backupPVC that can make ReadOnlyMany from a snapshot.
	RoleBackup = "backup"
	// RoleRefusesReadOnly: a class that cannot make ReadOnlyMany from a snapshot.
	RoleRefusesReadOnly = "refusesReadOnly"
	// RoleSlowClone: a class whose writable volumes from a snapshot are slow full clones.
	RoleSlowClone = "slowClone"
	// RoleOtherDriver: a class of another CSI driver, which must refuse the source's snapshots.
	RoleOtherDriver = "otherDriver"
)

var roles = []string{RoleSource, RoleBackup, RoleRefusesReadOnly, RoleSlowClone, RoleOtherDriver}

// Lanes a profile may name.
var lanes = []string{"local", "kind", "existing"}

// Profile is one driver's profile.
type Profile struct {
	APIVersion     string         `yaml:"apiVersion"`
	Kind           string         `yaml:"kind"`
	Name           string         `yaml:"name"`
	Driver         string         `yaml:"driver"`
	Description    string         `yaml:"description"`
	Lanes          []string       `yaml:"lanes"`
	StorageClasses []StorageClass `yaml:"storageClasses"`
	SnapshotClass  SnapshotClass  `yaml:"snapshotClass"`
	Capabilities   Capabilities   `yaml:"capabilities"`
	Timeouts       Timeouts       `yaml:"timeouts"`
	// Local says how the local lane runs the driver; only profiles with the local lane have it.
	Local *Local `yaml:"local"`
	// BackupPodImage is where the cluster's nodes find the harness's data mover image (the
	// existing lane; BACKUP_POD_IMAGE overrides it): with it, and a real kubelet, the specs that
	// need a data path run there too.
	BackupPodImage string `yaml:"backupPodImage"`
}

// StorageClass is a class the suites use, created by the harness when Create is set.
type StorageClass struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"`
	// Provisioner defaults to the profile's driver (RoleOtherDriver classes name another).
	Provisioner string            `yaml:"provisioner"`
	Create      bool              `yaml:"create"`
	Parameters  map[string]string `yaml:"parameters"`
}

// SnapshotClass is the VolumeSnapshotClass the backups use.
type SnapshotClass struct {
	Name           string            `yaml:"name"`
	Create         bool              `yaml:"create"`
	DeletionPolicy string            `yaml:"deletionPolicy"`
	Parameters     map[string]string `yaml:"parameters"`
}

// Capabilities are what the driver really does; the suites derive expectations from them.
type Capabilities struct {
	// ReadOnlyManyFromSnapshot: the backup class can provision ReadOnlyMany from a snapshot.
	ReadOnlyManyFromSnapshot bool `yaml:"readOnlyManyFromSnapshot"`
	// Block: Block-mode volumes and snapshots.
	Block bool `yaml:"block"`
	// ReadOnlyEnforcedAtMount: a read-only mount refuses writes (needs a real kubelet).
	ReadOnlyEnforcedAtMount bool `yaml:"readOnlyEnforcedAtMount"`
}

// Timeouts bound the suites' waits.
type Timeouts struct {
	// Prepare is the data-mover prepare timeout the suites give the system under test.
	Prepare Duration `yaml:"prepare"`
	// Provision bounds how long a volume from a snapshot may take.
	Provision Duration `yaml:"provision"`
	// PrepareOnKind, when set, replaces Prepare on the kind lane, whose kubelet really runs the
	// backupPods: it reports a pod's terminal phase only after tearing the pod down, so a backupPod
	// that exits at once counts as prepared seconds later, more so with many at once.
	PrepareOnKind Duration `yaml:"prepareOnKind"`
}

// Local is how the local lane runs the driver as a host process.
type Local struct {
	// Package is the Go main package to build, relative to the repository root.
	Package string   `yaml:"package"`
	Args    []string `yaml:"args"`
	// ExtraDrivers are more instances of the same program under other driver names (for
	// RoleOtherDriver classes), each with its own provisioner.
	ExtraDrivers []string `yaml:"extraDrivers"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 10s", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: %q is not a positive duration such as 10s", n.Line, s)
	}
	d.Duration = v
	return nil
}

// Load reads and validates a profile file.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// Find loads drivers/<name>/profile.yaml under root, or the file itself when name is a path.
func Find(root, name string) (*Profile, error) {
	if filepath.Ext(name) == ".yaml" {
		return Load(name)
	}
	p := filepath.Join(root, "drivers", name, "profile.yaml")
	if _, err := os.Stat(p); err != nil {
		known, _ := filepath.Glob(filepath.Join(root, "drivers", "*", "profile.yaml"))
		var names []string
		for _, k := range known {
			names = append(names, filepath.Base(filepath.Dir(k)))
		}
		return nil, fmt.Errorf("profile: no driver profile %q (known: %v)", name, names)
	}
	return Load(p)
}

// Parse decodes a profile strictly and validates it.
func Parse(data []byte) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Profile{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Profile) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.APIVersion != APIVersion || p.Kind != Kind {
		bad("apiVersion/kind must be %s/%s, got %s/%s", APIVersion, Kind, p.APIVersion, p.Kind)
	}
	if p.Name == "" || p.Driver == "" {
		bad("name and driver are required")
	}
	if len(p.Lanes) == 0 {
		bad("lanes: name at least one of %v", lanes)
	}
	for _, l := range p.Lanes {
		if !slices.Contains(lanes, l) {
			bad("lanes: unknown lane %q (known: %v)", l, lanes)
		}
	}
	seen := map[string]bool{}
	sources := 0
	for i := range p.StorageClasses {
		c := &p.StorageClasses[i]
		if c.Name == "" {
			bad("storageClasses[%d]: name is required", i)
		}
		if seen[c.Name] {
			bad("storageClasses: %q appears twice", c.Name)
		}
		seen[c.Name] = true
		if !slices.Contains(roles, c.Role) {
			bad("storageClasses %q: unknown role %q (known: %v)", c.Name, c.Role, roles)
		}
		if c.Role == RoleSource {
			sources++
		}
		if c.Provisioner == "" {
			c.Provisioner = p.Driver
		}
		if c.Role == RoleOtherDriver && c.Provisioner == p.Driver {
			bad("storageClasses %q: role otherDriver needs a provisioner other than %s", c.Name, p.Driver)
		}
	}
	if sources != 1 {
		bad("storageClasses: exactly one class must have role source, found %d", sources)
	}
	if p.SnapshotClass.Name == "" {
		bad("snapshotClass.name is required")
	}
	if dp := p.SnapshotClass.DeletionPolicy; dp == "" {
		p.SnapshotClass.DeletionPolicy = "Delete"
	} else if dp != "Delete" && dp != "Retain" {
		bad("snapshotClass.deletionPolicy must be Delete or Retain, got %q", dp)
	}
	if p.Timeouts.Prepare.Duration == 0 {
		p.Timeouts.Prepare.Duration = 10 * time.Second
	}
	if p.Timeouts.Provision.Duration == 0 {
		p.Timeouts.Provision.Duration = time.Minute
	}
	if slices.Contains(p.Lanes, "local") && (p.Local == nil || p.Local.Package == "") {
		bad("local.package is required for the local lane")
	}
	if p.Capabilities.ReadOnlyManyFromSnapshot && len(p.ClassesWithRole(RoleBackup)) == 0 {
		bad("capabilities.readOnlyManyFromSnapshot needs a class with role backup")
	}
	return errors.Join(errs...)
}

// ClassesWithRole returns the classes playing role.
func (p *Profile) ClassesWithRole(role string) []StorageClass {
	var out []StorageClass
	for _, c := range p.StorageClasses {
		if c.Role == role {
			out = append(out, c)
		}
	}
	return out
}

// Class returns the first class playing role, and whether there is one.
func (p *Profile) Class(role string) (StorageClass, bool) {
	cs := p.ClassesWithRole(role)
	if len(cs) == 0 {
		return StorageClass{}, false
	}
	return cs[0], true
}

// SupportsLane tells whether the profile runs on lane.
func (p *Profile) SupportsLane(lane string) bool { return slices.Contains(p.Lanes, lane) }
