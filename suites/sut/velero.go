package sut

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/proc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// Velero is the real Velero, built from the Go module proxy at its pin, run as velero install
// would run it, except that its processes run on the host: versitygw as the S3 object store on
// 127.0.0.1, velero server with the aws plugin, and one velero node-agent server per node (only
// the node-agent of the backupPod's node carries a DataUpload past Accepted).
type Velero struct {
	veleroCommon
	bins    map[string]string
	procs   []*proc.Process
	agents  []agent
	created []client.Object
}

// agent is a node-agent process and the environment it was started with (a restart needs it).
type agent struct {
	p   *proc.Process
	env []string
}

var (
	_ SUT    = (*Velero)(nil)
	_ Killer = (*Velero)(nil)
)

// veleroCommon is what every way of running Velero shares: the run's configuration, the pinned
// velero binary (on the host its node-agent judges ConfigMaps), the versions for the report.
type veleroCommon struct {
	cfg      Config
	velero   string
	version  string
	versions map[string]string
}

// newVeleroCommon finds the velero binary; how says how this Velero was built and runs.
func newVeleroCommon(cfg Config, v map[string]string, how string) (veleroCommon, error) {
	bin, err := toolchain.Binary("velero", "velero")
	if err != nil {
		return veleroCommon{}, fmt.Errorf("sut velero: %w", err)
	}
	return veleroCommon{cfg: cfg, velero: bin, version: v["VELERO_VERSION"], versions: map[string]string{
		"velero":                      v["VELERO_VERSION"] + " (" + how + ")",
		"velero-plugin-for-aws":       v["VELERO_PLUGIN_FOR_AWS_VERSION"],
		"versitygw (S3 object store)": v["VERSITYGW_VERSION"],
	}}, nil
}

// Name is "velero".
func (v *veleroCommon) Name() string { return "velero" }

// Versions lists Velero's pieces.
func (v *veleroCommon) Versions() map[string]string { return v.versions }

// TryConfigMap runs velero node-agent server on the host against the ConfigMap: Velero reads it
// before it starts anything, and exits on a ConfigMap it refuses; "Controllers starting..." is its
// last line before its manager starts (pkg/cmd/cli/nodeagent/server.go), long after the read.
func (v *veleroCommon) TryConfigMap(ctx context.Context, ns, name string) (Refusal, error) {
	if err := os.MkdirAll(tmpDir(v.cfg), 0o755); err != nil {
		return Refusal{}, fmt.Errorf("sut velero: %w", err)
	}
	return tryStart(ctx, refusalDeadline, "Controllers starting...", []string{v.velero, "node-agent", "server", "--kubeconfig", v.cfg.Kubeconfig, "--namespace", ns,
		"--features=EnableCSI", "--node-agent-configmap", name, "--metrics-address", "127.0.0.1:0"},
		[]string{"NODE_NAME=bpvc-configmap-check", "VELERO_NAMESPACE=" + ns, "TMPDIR=" + tmpDir(v.cfg)})
}

// veleroCheckInterval is Velero v1.18.3's preparingMonitorFrequency: it looks at Accepted
// DataUploads once a minute (pkg/controller/data_upload_controller.go).
const veleroCheckInterval = time.Minute

// veleroConcurrentBackups is the server's --concurrent-backups.
const veleroConcurrentBackups = 10

// veleroImage is the backupPod image Velero's exposer copies from the node-agent DaemonSet.
func veleroImage(version string) string { return "velero/velero:" + version }

// newVelero is Velero as the lane can run it: host processes on the local lane, installed into
// the cluster on the kind lane.
func newVelero(cfg Config) (SUT, error) {
	v, err := toolchain.Versions()
	if err != nil {
		return nil, err
	}
	switch cfg.Lane {
	case "local":
		return newVeleroProcesses(cfg, v)
	case "kind":
		return newVeleroKind(cfg, v)
	}
	return nil, fmt.Errorf("sut velero: runs on the local and kind lanes (lane %s: a cluster's own Velero is not a system under test yet)", cfg.Lane)
}

func newVeleroProcesses(cfg Config, v map[string]string) (*Velero, error) {
	common, err := newVeleroCommon(cfg, v, "built from the Go module proxy")
	if err != nil {
		return nil, err
	}
	bins := map[string]string{"velero": common.velero}
	for _, b := range []string{"velero-plugin-for-aws", "versitygw"} {
		p, err := toolchain.Binary(b, b)
		if err != nil {
			return nil, fmt.Errorf("sut velero: %w", err)
		}
		bins[b] = p
	}
	return &Velero{veleroCommon: common, bins: bins}, nil
}

// Description says what runs.
func (v *Velero) Description() string {
	return fmt.Sprintf("Velero %s (server, one node-agent per node, velero-plugin-for-aws, versitygw as the object store; host processes)",
		v.versions["velero"])
}

// Properties: Velero checks the prepare timeout once a minute; its own data mover runs in the
// backupPod, which on the local lane (kwok) never really runs (so nothing is there to restore).
func (v *Velero) Properties() Properties {
	return Properties{TimeoutCheckInterval: veleroCheckInterval, DataMover: VeleroDataMover, DataPath: false, Restores: true, QueuedDataPaths: true, OnHost: true}
}

// Start brings Velero up: the object store, the objects velero install makes, the server and the
// node-agents; ready once the BackupStorageLocation is Available, the DaemonSet's pods are ready
// and every node-agent started its controllers.
func (v *Velero) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("sut velero: %w", err), v.Stop(context.Background()))
		}
	}()
	for _, d := range []string{v.cfg.LogDir, tmpDir(v.cfg), filepath.Join(v.cfg.WorkDir, "plugins"), filepath.Join(v.cfg.WorkDir, "s3", veleroBucket)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Velero's server runs every executable in its plugin folder (a link counts: Velero's registry
	// reads the folder's entries' permission bits, and a link's are 0777).
	if err := os.Symlink(v.bins["velero-plugin-for-aws"], filepath.Join(v.cfg.WorkDir, "plugins", "velero-plugin-for-aws")); err != nil {
		return err
	}
	access, secret := randomHex(8), randomHex(16)
	credFile := filepath.Join(v.cfg.WorkDir, "cloud-credentials")
	if err := os.WriteFile(credFile, awsCredentials(access, secret), 0o600); err != nil {
		return err
	}
	c, err := v.client()
	if err != nil {
		return err
	}
	nodes := &corev1.NodeList{}
	if err := c.List(ctx, nodes); err != nil || len(nodes.Items) == 0 {
		return fmt.Errorf("listing the nodes for one node-agent each: %d nodes, %v", len(nodes.Items), err)
	}
	// versitygw, the server's metrics, and each node-agent's metrics.
	ports, err := freePorts(2 + len(nodes.Items))
	if err != nil {
		return err
	}
	s3Addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	gw, err := v.spawn("versitygw", []string{v.bins["versitygw"], "--port", s3Addr, "--access", access, "--secret", secret,
		"--region", s3Region, "posix", filepath.Join(v.cfg.WorkDir, "s3")}, []string{"TMPDIR=" + tmpDir(v.cfg)})
	if err != nil {
		return err
	}
	if err := waitUntil(ctx, 20*time.Second, "versitygw to answer on "+s3Addr, gw, func(context.Context) (bool, error) {
		return proc.Accepting(s3Addr), nil
	}); err != nil {
		return err
	}

	for _, obj := range veleroObjects(v.cfg.Namespace, veleroImage(v.version), "http://"+s3Addr, awsCredentials(access, secret)) {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
		v.created = append(v.created, obj)
	}

	env := []string{"AWS_SHARED_CREDENTIALS_FILE=" + credFile, "VELERO_NAMESPACE=" + v.cfg.Namespace, "TMPDIR=" + tmpDir(v.cfg)}
	common := []string{"--kubeconfig", v.cfg.Kubeconfig, "--namespace", v.cfg.Namespace, "--features=EnableCSI"}
	server, err := v.spawn("velero-server", append([]string{v.bins["velero"], "server"}, append(common,
		"--plugin-dir", filepath.Join(v.cfg.WorkDir, "plugins"),
		"--metrics-address", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--profiler-address", "",
		// Check plugin operations (the DataUploads) every 2 s instead of 10 s: verdicts sooner.
		"--item-operation-sync-frequency", "2s",
		// Backups of disjoint namespaces side by side (Velero's default is one at a time, and its
		// CSI plugin polls each snapshot every 5 s): the suites start many at once.
		"--concurrent-backups", strconv.Itoa(veleroConcurrentBackups),
		// The bucket is this run's alone: nothing to sync back into the cluster.
		"--disable-controllers", "backup-sync")...), env)
	if err != nil {
		return err
	}
	for i, n := range nodes.Items {
		agentEnv := append(slices.Clone(env), "NODE_NAME="+n.Name)
		a, err := v.spawn("velero-node-agent-"+n.Name, append([]string{v.bins["velero"], "node-agent", "server"}, append(common,
			append(configMapFlag(v.cfg), "--data-mover-prepare-timeout", v.cfg.PrepareTimeout.String(),
				"--metrics-address", fmt.Sprintf("127.0.0.1:%d", ports[2+i]))...)...), agentEnv)
		if err != nil {
			return err
		}
		v.agents = append(v.agents, agent{p: a, env: agentEnv})
	}

	bsl := &velerov1.BackupStorageLocation{}
	if err := waitUntil(ctx, time.Minute, "BackupStorageLocation "+defaultBSL+" to be Available", server, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKey{Namespace: v.cfg.Namespace, Name: defaultBSL}, bsl) == nil && bsl.Status.Phase == velerov1.BackupStorageLocationPhaseAvailable, nil
	}); err != nil {
		return fmt.Errorf("%w (phase %q, %q); velero-server's log %s ends:\n%s\nversitygw's log ends:\n%s",
			err, bsl.Status.Phase, bsl.Status.Message, server.Log, server.Excerpt(15), gw.Excerpt(10))
	}
	ds := &appsv1.DaemonSet{}
	if err := waitUntil(ctx, time.Minute, "the node-agent DaemonSet's pods to be ready", nil, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKey{Namespace: v.cfg.Namespace, Name: nodeAgentDaemonSet}, ds) == nil &&
			ds.Status.NumberReady == int32(len(nodes.Items)), nil
	}); err != nil {
		return fmt.Errorf("%w (%d of %d ready)", err, ds.Status.NumberReady, len(nodes.Items))
	}
	for _, a := range v.agents {
		if err := waitLog(ctx, a.p, agentStarted, time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// agentStarted is what a node-agent logs once its controllers run.
const agentStarted = "Controllers starting..."

// Kill ends every node-agent with SIGKILL: they run the DataUpload controller, whose restart
// must not lose what it persisted (D7). The server and the object store stay up.
func (v *Velero) Kill(context.Context) error {
	if len(v.agents) == 0 {
		return errors.New("sut velero: kill before start")
	}
	for _, a := range v.agents {
		if err := a.p.Kill(); err != nil {
			return fmt.Errorf("sut velero: %w", err)
		}
	}
	return nil
}

// Restart starts the killed node-agents again as Start did and waits until their controllers run.
func (v *Velero) Restart(ctx context.Context) error {
	for i, a := range v.agents {
		p, err := a.p.Restart(a.env)
		if err != nil {
			return fmt.Errorf("sut velero: %w", err)
		}
		v.procs[slices.Index(v.procs, a.p)] = p
		v.agents[i].p = p
		if err := writeRecord(v.cfg.WorkDir, v.procs); err != nil {
			return fmt.Errorf("sut velero: %w", err)
		}
		if err := waitLog(ctx, p, agentStarted, time.Minute); err != nil {
			return fmt.Errorf("sut velero: restart: %w", err)
		}
	}
	return nil
}

func (v *Velero) spawn(name string, args, env []string) (*proc.Process, error) {
	p, err := proc.Start(name, v.cfg.LogDir, args, env)
	if err != nil {
		return nil, err
	}
	v.procs = append(v.procs, p)
	return p, writeRecord(v.cfg.WorkDir, v.procs)
}

func (v *Velero) client() (client.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", v.cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: kubescheme.New()})
}

// Running reports the processes that have died.
func (v *Velero) Running() error {
	var errs []error
	for _, p := range v.procs {
		if !p.Alive() {
			errs = append(errs, p.Died("exited"))
		}
	}
	return errors.Join(errs...)
}

// LogFiles are every Velero process's log.
func (v *Velero) LogFiles() []string {
	files, _ := filepath.Glob(filepath.Join(v.cfg.LogDir, "velero-*.log"))
	return files
}

// Stop ends the processes (last started first), deletes the objects it created and removes its
// work folder (the object store with it).
func (v *Velero) Stop(ctx context.Context) error {
	errs := []error{proc.StopAll(v.procs, 10*time.Second)}
	v.procs, v.agents = nil, nil
	if len(v.created) > 0 {
		if c, err := v.client(); err != nil {
			errs = append(errs, err)
		} else {
			for i := len(v.created) - 1; i >= 0; i-- {
				if err := c.Delete(ctx, v.created[i], client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
		}
		v.created = nil
	}
	errs = append(errs, os.RemoveAll(v.cfg.WorkDir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sut velero: stop: %w", err)
	}
	return nil
}

// freePorts asks the kernel for n free ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
