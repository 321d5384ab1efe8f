package profile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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
	// ReadOnlyEnforcedAtMount: the driver publishes a read-only volume read-only, so a write
	// into it is refused; without it the write-read-only spec (real kubelet only) is skipped.
	ReadOnlyEnforcedAtMount bool `yaml:"readOnlyEnforcedAtMount"`
	// RestoreSizeParameter names a StorageClass parameter that makes the driver's snapshots of
	// that class's volumes report its value (a quantity such as 2Gi) as their size, so that a
	// VolumeSnapshot's restoreSize can differ from its source PVC's request (B7); "" when the
	// driver has none (the spec that needs it is skipped).
	RestoreSizeParameter string `yaml:"restoreSizeParameter"`
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

// Local is how the local lane runs the driver as a host process: a program of this repository
// (Package) or any binary (Command), once per driver name, with its sidecars on its socket.
type Local struct {
	// Package is the Go main package to build, relative to the repository root. Exactly one of
	// Package and Command.
	Package string `yaml:"package"`
	// Command is a binary that is not of this repository and its first arguments: a vendor's
	// controller plugin, or upstream's. Environment variables in its first element ($VAR, ${VAR})
	// are expanded when the lane starts, so the profile needs no path of one machine.
	Command []string `yaml:"command"`
	// Args follow the program (after Command's own arguments). Placeholders in Command and Args
	// are filled in per driver: see Placeholders.
	Args []string `yaml:"args"`
	// Needs says, when Command's binary is missing, what it is and how to give it: the lane's
	// error is then one line a user can act on.
	Needs string `yaml:"needs"`
	// ExtraDrivers are more instances of the same program under other driver names (for
	// RoleOtherDriver classes), each with its own provisioner.
	ExtraDrivers []string `yaml:"extraDrivers"`
}

// Placeholders are the values a lane fills into Local's Command and Args for one driver instance,
// written {{endpoint}}, {{node}}, {{driver}}, {{stateDir}} and {{statusSocket}}. An argument
// whose placeholder has no value on a lane is left out (the kind lane has no status socket, its
// extra instances no node), so one profile serves every lane.
type Placeholders struct {
	// Endpoint is the CSI endpoint the driver serves, unix:///path.
	Endpoint string
	// Node is the node ID the driver reports.
	Node string
	// Driver is the CSI driver name of this instance.
	Driver string
	// StateDir is a folder of the instance's own that the lane removes with it.
	StateDir string
	// StatusSocket is a unix socket path where the storage emulator serves its capacity in use.
	StatusSocket string
}

var placeholderRE = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

func (v Placeholders) values() map[string]string {
	return map[string]string{"endpoint": v.Endpoint, "node": v.Node, "driver": v.Driver, "stateDir": v.StateDir, "statusSocket": v.StatusSocket}
}

// placeholderNames lists the known placeholders, for error messages.
var placeholderNames = []string{"{{endpoint}}", "{{node}}", "{{driver}}", "{{stateDir}}", "{{statusSocket}}"}

// Expand fills the placeholders into args; an argument naming a placeholder without a value is
// dropped. Validation has refused unknown placeholders, so none is left.
func Expand(args []string, v Placeholders) []string {
	vals := v.values()
	out := make([]string, 0, len(args))
	for _, a := range args {
		drop := false
		a = placeholderRE.ReplaceAllStringFunc(a, func(m string) string {
			val := vals[m[2:len(m)-2]]
			if val == "" {
				drop = true
			}
			return val
		})
		if !drop {
			out = append(out, a)
		}
	}
	return out
}

// Uses tells whether Command or Args name the placeholder (for example "statusSocket").
func (l *Local) Uses(name string) bool {
	for _, a := range slices.Concat(l.Command, l.Args) {
		for _, m := range placeholderRE.FindAllStringSubmatch(a, -1) {
			if m[1] == name {
				return true
			}
		}
	}
	return false
}

// Argv is the program's arguments for one instance, after the program itself: Command's own
// arguments, then Args, placeholders filled in.
func (l *Local) Argv(v Placeholders) []string {
	var args []string
	if len(l.Command) > 0 {
		args = l.Command[1:]
	}
	return Expand(slices.Concat(args, l.Args), v)
}

// Binary resolves Command's binary: its environment variables expanded by getenv (os.LookupEnv
// outside tests), a bare name looked up in PATH, and it must be an executable file. Every error
// is one line naming the profile, what is missing and, with Needs, what to give.
func (l *Local) Binary(profileName string, getenv func(string) (string, bool)) (string, error) {
	if len(l.Command) == 0 {
		return "", fmt.Errorf("profile %s: local.command is empty", profileName)
	}
	raw := l.Command[0]
	needs := ""
	if l.Needs != "" {
		needs = "; " + l.Needs
	}
	var unset []string
	bin := os.Expand(raw, func(name string) string {
		v, ok := getenv(name)
		if !ok || v == "" {
			unset = append(unset, name)
		}
		return v
	})
	if len(unset) > 0 {
		return "", fmt.Errorf("profile %s: %s not set (local.command names %s)%s", profileName, strings.Join(unset, ", "), raw, needs)
	}
	from := ""
	if bin != raw {
		from = " (from " + raw + ")"
	}
	if !strings.Contains(bin, "/") {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("profile %s: %s%s is not in PATH%s", profileName, bin, from, needs)
		}
		return p, nil
	}
	fi, err := os.Stat(bin)
	switch {
	case err != nil:
		return "", fmt.Errorf("profile %s: %s%s does not exist%s", profileName, bin, from, needs)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("profile %s: %s%s is not an executable file%s", profileName, bin, from, needs)
	}
	return bin, nil
}

// validate checks the local section; the binary itself is looked for only when a lane starts.
func (l *Local) validate() []error {
	var errs []error
	if (l.Package == "") == (len(l.Command) == 0) {
		errs = append(errs, errors.New("local: give exactly one of package (a program of this repository) and command (any binary and its arguments)"))
	}
	if len(l.Command) > 0 && l.Command[0] == "" {
		errs = append(errs, errors.New("local.command: its first element is the binary and must not be empty"))
	}
	if l.Needs != "" && len(l.Command) == 0 {
		errs = append(errs, errors.New("local.needs describes command's binary: it needs local.command"))
	}
	check := func(field string, args []string) {
		for i, a := range args {
			for _, m := range placeholderRE.FindAllStringSubmatch(a, -1) {
				if !slices.Contains(placeholderNames, m[0]) {
					errs = append(errs, fmt.Errorf("local.%s[%d]: unknown placeholder %s (known: %s)", field, i, m[0], strings.Join(placeholderNames, ", ")))
				}
			}
		}
	}
	check("command", l.Command)
	check("args", l.Args)
	if !l.Uses("endpoint") {
		errs = append(errs, errors.New("local: command or args must pass {{endpoint}} to the driver: the lane's sidecars dial the socket it names"))
	}
	if len(l.ExtraDrivers) > 0 && !l.Uses("driver") {
		errs = append(errs, errors.New("local: extraDrivers run the program under other names: command or args must pass {{driver}}"))
	}
	return errs
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
		if bytes.Contains(data, []byte("{{")) && strings.Contains(err.Error(), "did not find expected") {
			// The braces of a placeholder are YAML flow indicators inside [a, b].
			return nil, fmt.Errorf("decode: %w (a {{placeholder}} inside [a, b] needs quotes; or write the list as - items)", err)
		}
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
	if slices.Contains(p.Lanes, "local") && p.Local == nil {
		bad("local (a package or a command) is required for the local lane")
	}
	if p.Local != nil {
		errs = append(errs, p.Local.validate()...)
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
