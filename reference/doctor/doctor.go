package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/access"
	"github.com/backuppvc-conformance/harness/reference/config"
)

// Progress receives one line per step while the doctor probes; the command writes them to
// standard error. Printf may be called from several goroutines at once.
type Progress interface {
	Printf(format string, args ...any)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(format string, args ...any)

// Printf calls f.
func (f ProgressFunc) Printf(format string, args ...any) { f(format, args...) }

// Options configures a run of the doctor.
type Options struct {
	// Namespace is the Velero namespace (default velero).
	Namespace string
	// ConfigMap, when set, is the node-agent ConfigMap to check instead of the DaemonSet's
	// --node-agent-configmap ("" for none).
	ConfigMap *string
	// PrepareTimeout, when set, replaces the DaemonSet's --data-mover-prepare-timeout.
	PrepareTimeout time.Duration
	// Profile is the driver profile saying which classes can make ReadOnlyMany from a snapshot.
	Profile *profile.Profile

	// Probe tries the entries in the cluster; ProbeEntries restricts it to those source classes.
	Probe        bool
	ProbeEntries []string
	// ProbeTimeout bounds each wait of a probe: the source PVC binding, the snapshot becoming
	// ready, the backupPVC binding (default 2m; never longer than the prepare timeout for the last).
	ProbeTimeout time.Duration
	// ProbeSize is the source PVC's size (default 1Gi).
	ProbeSize resource.Quantity
	// Parallel is how many entries are probed at once (default 4).
	Parallel int
	// CleanupTimeout bounds the removal of what the probe created (default 2m).
	CleanupTimeout time.Duration
	// Poll is how often the probe looks (default 250ms).
	Poll time.Duration
	// Run names this run in its labels and namespaces (default: random).
	Run      string
	Progress Progress
}

func (o *Options) defaults() {
	if o.Namespace == "" {
		o.Namespace = "velero"
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 2 * time.Minute
	}
	if o.ProbeSize.IsZero() {
		o.ProbeSize = resource.MustParse("1Gi")
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Run == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.Run = hex.EncodeToString(b)
	}
	if o.Progress == nil {
		o.Progress = ProgressFunc(func(string, ...any) {})
	}
}

// Run checks the cluster c reaches: discovery, lint, static checks and, with o.Probe, the probe.
// It never fails: what it could not check is in the report's Problems, and ExitCode says the rest.
func Run(ctx context.Context, c client.Client, o Options) *Report {
	start := time.Now()
	o.defaults()
	r := &Report{Lint: []config.Finding{}, Entries: []Entry{}, Notes: []string{}, Problems: []string{}}
	defer func() {
		r.ExitCode = r.exitCode()
		r.Took = dur(time.Since(start).Round(time.Millisecond))
	}()
	cfg, err := discover(ctx, c, &o, r)
	if err != nil {
		return r
	}
	cl, err := readCluster(ctx, c, o.Namespace)
	if err != nil {
		r.problem("%v", err)
		return r
	}
	checkEntries(cfg, cl, r.Discovery, o.Profile, r)
	if !o.Probe {
		return r
	}
	which, ok := probeTargets(r, o.ProbeEntries)
	if !ok || len(which) == 0 {
		return r
	}
	wffc := false
	for _, i := range which {
		wffc = wffc || r.Entries[i].wffc
	}
	denied, err := access.Denied(ctx, c, probeAccess(wffc))
	if err != nil {
		r.problem("probe not run: %v", err)
		return r
	}
	if len(denied) > 0 {
		r.problem("%s", deniedMessage(denied))
		return r
	}
	p := &prober{c: c, o: &o, d: r.Discovery, run: o.Run, nodes: map[string]string{},
		labels: map[string]string{LabelManagedBy: ManagedByDoctor, LabelRun: o.Run}}
	p.probeAll(ctx, r, which)
	for _, i := range which {
		probeVerdict(&r.Entries[i], r.Discovery)
	}
	return r
}

// probeTargets are the indexes of the entries to probe: the named ones (all when none are named)
// that the static checks leave something to learn about. The others get a skipped probe saying why.
// Names that are no entry are a problem, and nothing is probed.
func probeTargets(r *Report, names []string) ([]int, bool) {
	var unknown []string
	for _, n := range names {
		if !slices.ContainsFunc(r.Entries, func(e Entry) bool { return e.SourceClass == n }) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		var have []string
		for _, e := range r.Entries {
			have = append(have, e.SourceClass)
		}
		r.problem("--probe names %s, which %s no backupPVC entry (entries: %s): nothing probed",
			strings.Join(unknown, ", "), plural(len(unknown), "is", "are"), orNone(strings.Join(have, ", ")))
		return nil, false
	}
	var out []int
	for i := range r.Entries {
		e := &r.Entries[i]
		if len(names) > 0 && !slices.Contains(names, e.SourceClass) {
			continue
		}
		if why := unprobeable(e); why != "" {
			e.Probe = &Probe{Outcome: OutcomeSkipped, Message: "not probed: " + why}
			e.Checks = append(e.Checks, Check{Name: CheckProbe, Status: StatusSkipped, Message: e.Probe.Message})
			continue
		}
		out = append(out, i)
	}
	if len(r.Entries) == 0 {
		r.note("--probe: no backupPVC entries to probe")
	}
	return out, true
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// unprobeable says why an entry cannot be tried: a probe needs both classes and a snapshot class.
func unprobeable(e *Entry) string {
	for _, c := range e.Checks {
		switch {
		case c.Name == CheckSourceClass && c.Status != StatusOK:
			return fmt.Sprintf("no storage class %s to make the source PVC in", e.SourceClass)
		case c.Name == CheckBackupPVCClass && c.Status != StatusOK:
			return fmt.Sprintf("no storage class %s: the static check already says what happens", e.BackupPVCClass)
		case c.Name == CheckSnapshotClass && c.Status != StatusOK:
			return "no VolumeSnapshotClass to snapshot the source PVC with"
		}
	}
	return ""
}
