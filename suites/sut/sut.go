package sut

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SUT is a system under test: an implementation of Velero's data-mover backup path that the
// suites drive only through Velero's public surface (Backup and DataUpload objects, the node-agent
// ConfigMap) and judge by the objects it creates.
type SUT interface {
	// Name is how make e2e SUT=... names it.
	Name() string
	// Description is the report's line about it.
	Description() string
	// Versions names each of its components and their versions, for the report.
	Versions() map[string]string
	// Properties are where it legitimately differs from other systems under test.
	Properties() Properties
	// Start runs it against the cluster with the Config's node-agent ConfigMap and prepare timeout
	// and returns once it is ready for backups, or says why it is not (the component, the end of
	// its log), having stopped and removed whatever it had started.
	Start(ctx context.Context) error
	// Running says which of its processes has died, if any.
	Running() error
	// LogFiles are its logs (for diagnostics: the lines about a spec's DataUploads).
	LogFiles() []string
	// TryConfigMap starts its node-agent side against ConfigMap name in namespace ns (the SUT need
	// not be started) and reports whether it refused it.
	TryConfigMap(ctx context.Context, ns, name string) (Refusal, error)
	// Stop ends it and removes everything it created, leaving the cluster and the machine as Start
	// found them.
	Stop(ctx context.Context) error
}

// Properties are what a spec may read instead of asking which system it judges.
type Properties struct {
	// TimeoutCheckInterval is how often it checks an Accepted DataUpload against the prepare
	// timeout: a timeout may fire that much after acceptedTimestamp + timeout.
	TimeoutCheckInterval time.Duration
	// DataMover is what runs in its backupPods.
	DataMover DataMover
	// DataPath: on this lane its backupPods really run and move or read the volume's data. When
	// false, a positive spec judges everything up to the data path and says it was not exercised.
	DataPath bool
	// Restores: its data mover uploads the volume's data to an object store, and a Velero Restore
	// of the backup brings it back (the reference's data mover only reads).
	Restores bool
	// QueuedDataPaths: its node-agent runs a node's data paths one at a time (Velero's default
	// loadConcurrency), so where they really run (DataPath) a DataUpload waits Prepared behind
	// every other one on its node: many backups at once hold up every other spec's.
	QueuedDataPaths bool
	// OnHost: it runs as processes on the harness's machine, so a second instance of it, in a
	// Velero namespace of its own, costs a start-up and touches nothing of the cluster but that
	// namespace (an installation in the cluster would be a second install).
	OnHost bool
}

// DataMover is what runs in a backupPod.
type DataMover string

const (
	// HarnessDataMover is this repository's stand-in (reference/datamover): it reads the volume,
	// probes a write, and reports both in its termination message (internal/moverreport).
	HarnessDataMover DataMover = "harness"
	// VeleroDataMover is Velero's own data mover: kopia, uploading to the object store.
	VeleroDataMover DataMover = "velero"
)

// Refusal is what a system under test did with a node-agent ConfigMap at start-up.
type Refusal struct {
	// Refused: it exited on its own within the deadline, with a non-zero code.
	Refused  bool
	ExitCode int
	// Output is everything it printed.
	Output string
}

// Reason is the last line it printed: where both Velero and the reference say why they exit.
func (r Refusal) Reason() string {
	lines := strings.Split(strings.TrimSpace(r.Output), "\n")
	return lines[len(lines)-1]
}

// Config is what every system under test is started with. It travels between the suites'
// processes as JSON: New(cfg) in any of them gives a SUT whose TryConfigMap, LogFiles and
// Properties work without Start.
type Config struct {
	// SUT is reference or velero.
	SUT        string `json:"sut"`
	Lane       string `json:"lane"`
	Kubeconfig string `json:"kubeconfig"`
	// Namespace is the Velero namespace (the harness creates it and the ConfigMap in it).
	Namespace string `json:"namespace"`
	// NodeAgentConfigMap names the node-agent ConfigMap in Namespace ("": none, A6).
	NodeAgentConfigMap string        `json:"nodeAgentConfigMap"`
	PrepareTimeout     time.Duration `json:"prepareTimeout"`
	// RealKubelet: the lane runs pods for real (kind).
	RealKubelet bool `json:"realKubelet"`
	// BackupPodImage is the lane's image of the harness's data mover ("" when it has none).
	BackupPodImage string `json:"backupPodImage"`
	// KindCluster is the kind cluster's name on the kind lane (for kind load), else "".
	KindCluster string `json:"kindCluster"`
	// WorkDir holds what it needs while it runs (binaries, plugins, the object store); Stop
	// removes it. LogDir holds its logs, which stay.
	WorkDir string `json:"workDir"`
	LogDir  string `json:"logDir"`
	// Built: what the system builds from this checkout at its start is built and up to date (Build
	// built it, or the run's first installation did): Start runs it as it is. The go command's
	// up-to-date check alone costs 0.7 CPU-seconds.
	Built bool `json:"built"`
}

// tmpDir is the TMPDIR of a system's processes and GOTMPDIR of its builds: inside its work folder,
// so that what they leave there (Velero's plugin sockets, its copies of backupPod logs, its
// credentials files; a build's link output) goes with it.
func tmpDir(cfg Config) string { return filepath.Join(cfg.WorkDir, "tmp") }

// Names are the systems under test New knows.
var Names = []string{"reference", "velero"}

// New returns the system under test cfg.SUT names, not started.
func New(cfg Config) (SUT, error) {
	switch cfg.SUT {
	case "reference", "":
		return newReference(cfg), nil
	case "velero":
		return newVelero(cfg)
	}
	return nil, fmt.Errorf("sut: unknown system under test %q (known: %s)", cfg.SUT, strings.Join(Names, ", "))
}

// Build builds what the system under test called name builds from this checkout at its start:
// the reference's binary (Velero's come from make tools-velero, its images from its kind start).
// It needs no cluster, so the suites run it while the lane comes up and start the system with
// Config.Built. The go command's work folder is one of its own, removed after.
func Build(ctx context.Context, name string) error {
	if name != "reference" && name != "" {
		return nil
	}
	gotmp, err := os.MkdirTemp("", "backuppvc-build-")
	if err != nil {
		return fmt.Errorf("sut reference: %w", err)
	}
	defer os.RemoveAll(gotmp)
	if err := buildReference(ctx, gotmp); err != nil {
		return fmt.Errorf("sut reference: %w", err)
	}
	return nil
}

// configMapFlag is the node-agent's --node-agent-configmap for cfg: none when cfg names no
// ConfigMap (A6: the node-agent then has no backupPVC configuration).
func configMapFlag(cfg Config) []string {
	if cfg.NodeAgentConfigMap == "" {
		return nil
	}
	return []string{"--node-agent-configmap", cfg.NodeAgentConfigMap}
}
