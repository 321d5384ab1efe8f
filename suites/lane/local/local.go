package local

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/logtail"
	"github.com/backuppvc-conformance/harness/internal/proc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// Options configures a local lane.
type Options struct {
	// Name distinguishes lanes running side by side (default "backuppvc").
	Name    string
	Profile *profile.Profile
	// ArtifactsDir receives the components' logs under lanes/<name>/logs (kept after Down).
	ArtifactsDir string
	// Nodes is how many fake nodes kwok simulates (default 2).
	Nodes int
	// AuditLog makes the API server write an audit event per request (metadata only) to
	// AuditLogPath, for counting each component's requests (make bench).
	AuditLog bool
	Log      logr.Logger
}

// Lane is a running local lane.
type Lane struct {
	// mu guards st.Processes against KillRestart and RestartExited running at once (make chaos's
	// kills and its watchdog): one process must not be started twice.
	mu       sync.Mutex
	opts     Options
	work     string
	logDir   string
	kubecfg  string
	cfg      *rest.Config
	st       *state
	versions map[string]string
}

var _ lane.Lane = (*Lane)(nil)

// workDir is where a lane named name keeps its state, sockets and kwokctl's files; Down removes it.
func workDir(name string) string {
	return filepath.Join(os.TempDir(), "backuppvc-lanes", name)
}

// clusterDir is kwokctl's folder of the lane's cluster (KWOK_WORKDIR is the lane's kwok folder):
// its kubeconfig, the kwok.yaml it saved, the control plane's logs.
func clusterDir(work, name string) string { return filepath.Join(work, "kwok", "clusters", name) }

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = "backuppvc"
	}
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	if o.ArtifactsDir == "" {
		o.ArtifactsDir = filepath.Join(toolchain.RepoRoot(), "artifacts")
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
}

// binaries the lane runs, by component.
var binaries = [][2]string{
	{"kubernetes", "kube-apiserver"}, {"kubernetes", "kube-controller-manager"}, {"kubernetes", "kube-scheduler"},
	{"kubernetes", "kubectl"}, {"etcd", "etcd"}, {"etcd", "etcdctl"}, {"kwok", "kwok"}, {"kwok", "kwokctl"},
	{"csi-provisioner", "csi-provisioner"}, {"csi-snapshotter", "csi-snapshotter"}, {"csi-snapshotter", "snapshot-controller"},
}

// Up brings a lane up and returns it ready for the suites; on any error everything it started is
// stopped again. A lane of the same name left by a crashed run is taken down first.
func Up(ctx context.Context, o Options) (l *Lane, err error) {
	o.defaults()
	if o.Profile == nil || o.Profile.Local == nil {
		return nil, fmt.Errorf("local lane: profile has no local section: it cannot run on the local lane")
	}
	loc := o.Profile.Local
	// A command's binary is the user's to give: look for it before anything starts, so its
	// absence is one line rather than a lane brought up and torn down again.
	var driverBin string
	if len(loc.Command) > 0 {
		bin, err := loc.Binary(o.Profile.Name, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("local lane: %w", err)
		}
		driverBin = bin
	}
	if err := Down(ctx, o.Name, o.Log); err != nil {
		return nil, fmt.Errorf("local lane %s: a previous lane of that name could not be taken down: %w", o.Name, err)
	}
	bins := map[string]string{}
	for _, b := range binaries {
		p, err := toolchain.Binary(b[0], b[1])
		if err != nil {
			return nil, fmt.Errorf("local lane: %w", err)
		}
		bins[b[1]] = p
	}
	l = &Lane{opts: o, work: workDir(o.Name), logDir: filepath.Join(o.ArtifactsDir, "lanes", o.Name, "logs"), st: &state{Name: o.Name}}
	for _, d := range []string{l.work, l.logDir, filepath.Join(l.work, "bin"), filepath.Join(l.work, "csi"), filepath.Join(l.work, "gotmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("local lane: %w", err)
		}
	}
	l.st.LogDir = l.logDir
	if err := l.st.write(filepath.Join(l.work, "state.json")); err != nil {
		return nil, fmt.Errorf("local lane: %w", err)
	}
	defer func() {
		if err != nil {
			if derr := l.Down(context.Background()); derr != nil {
				err = errors.Join(err, fmt.Errorf("and tearing down after it: %w", derr))
			}
			l = nil
		}
	}()

	start := time.Now()
	// Each step's time, for the bring-up's split in the log (make bench's time to verdict).
	var steps []string
	stepStart := start
	took := func(step string) {
		steps = append(steps, step+" "+time.Since(stepStart).Round(time.Millisecond).String())
		stepStart = time.Now()
	}
	// The driver is built while kwokctl starts the control plane: the build is the go command's
	// work, the start mostly waiting.
	built := make(chan error, 1)
	if loc.Package != "" {
		driverBin = toolchain.BuildPath("csi-driver-" + o.Profile.Name)
		go func() { built <- l.run(ctx, "build driver", "go", "build", "-o", driverBin, loc.Package) }()
	} else {
		built <- nil
	}
	err = l.kwokctlUp(ctx, bins)
	if berr := <-built; err == nil {
		err = berr
	}
	if err != nil {
		return l, err
	}
	took("kwokctl and driver build")
	o.Log.Info("control plane up", "took", time.Since(start).Round(time.Millisecond).String())
	c, err := client.New(l.cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return l, fmt.Errorf("local lane: client: %w", err)
	}
	// Pods need the default ServiceAccount, which the controller-manager makes a second or two
	// after kwokctl reports ready; nothing before the profile's objects needs it, so it is waited
	// for after them.
	saCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting() // when a step before fails
	saReady := make(chan error, 1)
	go func() { saReady <- waitDefaultServiceAccount(saCtx, c) }()
	if err := lane.InstallCRDs(l.cfg); err != nil {
		return l, err
	}
	took("CRDs")
	// The profile's objects are made while the storage components start: nothing of one needs the
	// other, and the VolumeSnapshotClass first waits out its CRD's create hold (lane.Prepare).
	drivers := append([]string{o.Profile.Driver}, loc.ExtraDrivers...)
	prepared := make(chan error, 1)
	go func() {
		_, err := lane.Prepare(ctx, c, o.Profile, drivers)
		prepared <- err
	}()
	if err := createNodes(ctx, c, o.Nodes); err != nil {
		return l, errors.Join(err, <-prepared)
	}
	if err := l.startStorage(ctx, bins, driverBin, drivers); err != nil {
		return l, errors.Join(err, <-prepared)
	}
	spawned := time.Now()
	took("nodes and storage")
	if err := <-prepared; err != nil {
		return l, err
	}
	if err := <-saReady; err != nil {
		return l, err
	}
	// kwok makes the nodes Ready, and the controller-manager lifts their not-ready taint, moments
	// after they are made: the suites pick a schedulable, Ready node (the loadAffinity spec's), and
	// found none in 2 of 20 runs once the lane stopped waiting for the API server's bootstrap hooks.
	if err := waitNodesReady(ctx, c, o.Nodes); err != nil {
		return l, err
	}
	// A component with a bad flag or no socket dies within its first second: the storage
	// components have had it, the classes and the ServiceAccount made meanwhile.
	if err := proc.Survive(ctx, spawned.Add(time.Second), l.st.Processes...); err != nil {
		return l, fmt.Errorf("local lane: %w", err)
	}
	l.versions = l.componentVersions(drivers, driverBin)
	took("classes, default ServiceAccount and the components' first second")
	o.Log.Info("local lane ready", "name", o.Name, "kubeconfig", l.kubecfg, "took", time.Since(start).Round(time.Millisecond).String(),
		"steps", strings.Join(steps, ", "))
	return l, nil
}

// run runs a short command at the repository root, its output in the lane log folder.
func (l *Lane) run(ctx context.Context, what string, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = toolchain.RepoRoot()
	// GOTMPDIR: the go command's work folder (its link output) inside the lane's, so a build
	// killed by a cancelled Up goes with the lane instead of staying in /tmp.
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+filepath.Join(l.work, "kwok"), "GOTMPDIR="+filepath.Join(l.work, "gotmp"))
	logPath := filepath.Join(l.logDir, strings.ReplaceAll(what, " ", "-")+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("local lane: %s failed (%v): see %s:\n%s", what, err, logPath, logtail.Tail(logPath, 15))
	}
	return nil
}

func (l *Lane) kwokctlUp(ctx context.Context, bins map[string]string) error {
	conf := filepath.Join(l.work, "kwokctl.yaml")
	audit := ""
	if l.opts.AuditLog {
		audit = filepath.Join(l.work, "audit-policy.yaml")
		if err := os.WriteFile(audit, []byte(auditPolicy), 0o644); err != nil {
			return fmt.Errorf("local lane: audit policy: %w", err)
		}
	}
	if err := kwokctlConfig(conf, bins, audit); err != nil {
		return fmt.Errorf("local lane: kwokctl config: %w", err)
	}
	// kwokctl picks its ports downwards from 32766, each the first that nothing listens on, and
	// knows only the ports of the clusters in its own work folder: two lanes created at the same
	// moment would pick the same ones, so creations take turns.
	unlock, err := lockFile(filepath.Join(filepath.Dir(l.work), ".kwokctl-create.lock"))
	if err != nil {
		return fmt.Errorf("local lane: %w", err)
	}
	// kwokctl returns once the API server serves (not --wait: that polls its readiness every half
	// second, a kubectl each time; the lane asks /readyz itself, more often).
	err = l.run(ctx, "kwokctl create", bins["kwokctl"], "create", "cluster", "--name", l.opts.Name, "--config", conf,
		"--kubeconfig", filepath.Join(l.work, "kubeconfig.ignored"), "--timeout", "2m")
	if err != nil {
		unlock()
		return err
	}
	cluster := clusterDir(l.work, l.opts.Name)
	// The turn ends when every port this cluster was given is listened on, not when kwokctl
	// returns: kwok's controller binds its port 250-350 ms later. A lane created in that moment
	// took that port for its etcd's peers, and its etcd could not start (twice in the CI's
	// integration tests: the second lane's API server found nothing on its etcd's port).
	// Meanwhile this lane goes on to wait for its API server.
	ports, err := kwokctlPorts(filepath.Join(cluster, "kwok.yaml"))
	if err != nil {
		unlock()
		return fmt.Errorf("local lane: %w", err)
	}
	go func() {
		defer unlock()
		if err := waitListening(ctx, ports, 30*time.Second); err != nil {
			l.opts.Log.Info("the next lane's kwokctl may pick a port of this one", "lane", l.opts.Name, "why", err.Error())
		}
	}()
	l.kubecfg = filepath.Join(cluster, "kubeconfig.yaml")
	cfg, err := clientcmd.BuildConfigFromFlags("", l.kubecfg)
	if err != nil {
		return fmt.Errorf("local lane: kubeconfig %s: %w", l.kubecfg, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	l.cfg = cfg
	if err := waitReadyz(ctx, cfg, time.Minute); err != nil {
		// Their logs say why (a port taken, etcd unreachable); a test's lane folder goes with it.
		for _, c := range []string{"kube-apiserver", "etcd"} {
			log := filepath.Join(cluster, "logs", c+".log")
			err = fmt.Errorf("%w; the end of %s:\n%s", err, log, logtail.Tail(log, 10))
		}
		return err
	}
	return nil
}

// notAwaited are the API server's readiness checks the lane does not wait for: two post-start
// hooks that each begin with a whole second's wait (wait.Poll before its first try), then write
// objects nothing on this lane reads. Every client here (the control plane, the sidecars, the
// system under test, the suites) uses the lane's system:masters kubeconfig, which RBAC's
// authorizer is not asked about, and no pod names a priority class. The hooks finish on their
// own about a second later. Waiting for them was a second of every bring-up (the API server
// served at 1.1 s, was ready at 2.1 s).
var notAwaited = []string{"poststarthook/rbac/bootstrap-roles", "poststarthook/scheduling/bootstrap-system-priority-classes"}

// waitReadyz waits until the API server reports itself ready but for the checks in notAwaited,
// asking every 100 ms.
func waitReadyz(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("local lane: %w", err)
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		req := dc.RESTClient().Get().AbsPath("/readyz")
		for _, c := range notAwaited {
			req = req.Param("exclude", c)
		}
		_, last = req.DoRaw(ctx)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("local lane: the API server was not ready within %v: %v", timeout, last)
	}
	return nil
}

// waitDefaultServiceAccount: kwokctl reports ready before the default ServiceAccount exists, and
// pods cannot be created without it.
func waitDefaultServiceAccount(ctx context.Context, c client.Client) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &corev1.ServiceAccount{}) == nil, nil
	})
	if err != nil {
		return fmt.Errorf("local lane: the default ServiceAccount did not appear within a minute (is kube-controller-manager running?)")
	}
	return nil
}

// nodeName is the name of the lane's i-th kwok node.
func nodeName(i int) string { return fmt.Sprintf("kwok-node-%d", i) }

// createNodes adds fake nodes kwok manages.
func createNodes(ctx context.Context, c client.Client, n int) error {
	for i := range n {
		name := nodeName(i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
			Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok", lane.ManagedByLabel: lane.ManagedByValue}}}
		if err := c.Create(ctx, node); err != nil {
			return fmt.Errorf("local lane: node %s: %w", name, err)
		}
	}
	return nil
}

// waitNodesReady waits until the lane's n nodes are Ready and carry no NoSchedule or NoExecute
// taint, asking every 100 ms.
func waitNodesReady(ctx context.Context, c client.Client, n int) error {
	var notReady []string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		notReady = notReady[:0]
		for i := range n {
			node := &corev1.Node{}
			name := nodeName(i)
			if err := c.Get(ctx, client.ObjectKey{Name: name}, node); err != nil || !lane.Schedulable(node) {
				notReady = append(notReady, name)
			}
		}
		return len(notReady) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("local lane: nodes %v not Ready and schedulable within a minute (is kwok-controller running?)", notReady)
	}
	return nil
}

// startStorage starts snapshot-controller, then per driver the driver (once it serves its socket),
// its csi-provisioner and csi-snapshotter. It returns when the last started: the caller gives them
// their first second (proc.Survive).
func (l *Lane) startStorage(ctx context.Context, bins map[string]string, driverBin string, drivers []string) error {
	kc := "--kubeconfig=" + l.kubecfg
	if err := l.spawn("snapshot-controller", append([]string{bins["snapshot-controller"], kc}, lane.SnapshotControllerFlags...), nil); err != nil {
		return err
	}
	for i, d := range drivers {
		suffix := ""
		if i > 0 {
			suffix = "-" + strings.SplitN(d, ".", 2)[0]
		}
		ph := placeholders(l.work, d)
		// A driver of someone else's may expect its state folder to exist.
		if err := os.MkdirAll(ph.StateDir, 0o755); err != nil {
			return fmt.Errorf("local lane: %w", err)
		}
		if err := l.spawn("csi-driver"+suffix, driverCommand(l.opts.Profile.Local, driverBin, ph), nil); err != nil {
			return err
		}
		sock := socketPath(l.work, d)
		if err := waitSocket(sock, l.st.Processes[len(l.st.Processes)-1], 20*time.Second); err != nil {
			return l.died("csi-driver"+suffix, err)
		}
		addr := "--csi-address=" + sock
		if err := l.spawn("csi-provisioner"+suffix, append([]string{bins["csi-provisioner"], kc, addr}, lane.ProvisionerFlags...), nil); err != nil {
			return err
		}
		if err := l.spawn("csi-snapshotter"+suffix, append([]string{bins["csi-snapshotter"], kc, addr}, lane.SnapshotterFlags...), nil); err != nil {
			return err
		}
	}
	return nil
}

// driverNode is the node the driver instances report: the first of the lane's kwok nodes.
const driverNode = "kwok-node-0"

// socketPath is where the driver instance named d serves CSI.
func socketPath(work, d string) string { return filepath.Join(work, "csi", d+".sock") }

// statusSocketPath is where the driver instance named d may serve a status page.
func statusSocketPath(work, d string) string { return filepath.Join(work, "csi", d+".status.sock") }

// placeholders are the profile's placeholders for the driver instance named d of the lane whose
// work folder is work: everything under it, so Down removes it.
func placeholders(work, d string) profile.Placeholders {
	return profile.Placeholders{Endpoint: "unix://" + socketPath(work, d), Node: driverNode, Driver: d,
		StateDir: filepath.Join(work, "driver-state", d), StatusSocket: statusSocketPath(work, d)}
}

// driverCommand is the command line of one driver instance: the program (built from the
// profile's package, or its command's binary) and the profile's arguments, filled in.
func driverCommand(loc *profile.Local, bin string, ph profile.Placeholders) []string {
	return append([]string{bin}, loc.Argv(ph)...)
}

func (l *Lane) spawn(name string, args, env []string) error {
	p, err := proc.Start(name, l.logDir, args, env)
	if err != nil {
		return fmt.Errorf("local lane: %w", err)
	}
	l.st.Processes = append(l.st.Processes, p)
	return l.st.write(filepath.Join(l.work, "state.json"))
}

func (l *Lane) died(name string, cause error) error {
	for _, p := range l.st.Processes {
		if p.Name == name {
			return fmt.Errorf("local lane: %s %v; its log %s ends:\n%s", name, cause, p.Log, p.Excerpt(15))
		}
	}
	return fmt.Errorf("local lane: %s: %v", name, cause)
}

// waitSocket waits for the driver p to create its socket; it gives up at once if p exits.
func waitSocket(path string, p *proc.Process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if !p.Alive() {
			return errors.New("exited during start-up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("did not create its socket %s within %v", path, timeout)
}

func (l *Lane) componentVersions(drivers []string, bin string) map[string]string {
	v, _ := toolchain.Versions()
	driver := fmt.Sprintf("%s (%s, this repository)", strings.Join(drivers, ", "), l.opts.Profile.Local.Package)
	if l.opts.Profile.Local.Package == "" {
		// Not ours: its path and digest say which build the report is about.
		driver = fmt.Sprintf("%s (%s, %s)", strings.Join(drivers, ", "), bin, fileDigest(bin))
	}
	return map[string]string{
		"kube-apiserver, controller-manager, scheduler": v["KUBERNETES_VERSION"],
		"etcd":                                 v["ETCD_VERSION"],
		"kwok, kwokctl":                        v["KWOK_VERSION"],
		"csi-provisioner":                      v["EXTERNAL_PROVISIONER_VERSION"],
		"csi-snapshotter, snapshot-controller": v["EXTERNAL_SNAPSHOTTER_VERSION"],
		"csi driver":                           driver,
	}
}

// DriverStatusSocket is where the driver named d serves its status page (the emulator's capacity
// in use), over HTTP on a unix socket; "" when the profile's driver serves none (it does not
// name {{statusSocket}}: every driver but the emulator).
func (l *Lane) DriverStatusSocket(d string) string {
	if !l.opts.Profile.Local.Uses("statusSocket") {
		return ""
	}
	return statusSocketPath(l.work, d)
}

// fileDigest is the sha256 of the file at path, shortened, or why there is none.
func fileDigest(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "digest unknown: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "digest unknown: " + err.Error()
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))[:19]
}

// Name is the lane's name.
func (l *Lane) Name() string { return l.opts.Name }

// Kind is "local".
func (l *Lane) Kind() string { return "local" }

var _ lane.PodFailer = (*Lane)(nil)

// FailsUnrecoverablePods: kwok's stage fixtures/kwok/backup-pod-unrecoverable.yaml fails them.
func (l *Lane) FailsUnrecoverablePods() bool { return true }

// Kubeconfig is the cluster's kubeconfig file.
func (l *Lane) Kubeconfig() string { return l.kubecfg }

// RESTConfig is the cluster's client configuration.
func (l *Lane) RESTConfig() *rest.Config { return l.cfg }

// Versions lists the lane's components and their versions.
func (l *Lane) Versions() map[string]string { return l.versions }

// LogDir holds every component's log.
func (l *Lane) LogDir() string { return l.logDir }

// Healthy reports the supervised components that have died.
func (l *Lane) Healthy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, p := range l.st.Processes {
		if !p.Alive() {
			errs = append(errs, fmt.Errorf("%s died; its log %s ends:\n%s", p.Name, p.Log, p.Excerpt(10)))
		}
	}
	return errors.Join(errs...)
}

// Down stops the lane's processes and cluster and removes its work folder.
func (l *Lane) Down(ctx context.Context) error {
	return Down(ctx, l.opts.Name, l.opts.Log)
}

// Down takes down the lane named name, whoever started it: the supervised processes, kwokctl's
// cluster (its logs copied into the lane's log folder first when that is known), the work folder.
// A lane that does not exist is not an error.
func Down(ctx context.Context, name string, log logr.Logger) error {
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	work := workDir(name)
	if _, err := os.Stat(work); os.IsNotExist(err) {
		return nil
	}
	var errs []error
	if st, err := readState(filepath.Join(work, "state.json")); err == nil {
		if err := st.stopAll(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
		if st.LogDir != "" {
			copyKwokLogs(work, name, st.LogDir)
		}
	} else if !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	if kwokctl, err := toolchain.Binary("kwok", "kwokctl"); err == nil {
		cmd := exec.CommandContext(ctx, kwokctl, "delete", "cluster", "--name", name)
		cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+filepath.Join(work, "kwok"))
		if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "not exist") {
			errs = append(errs, fmt.Errorf("kwokctl delete cluster %s: %v: %s", name, err, out))
		}
	}
	// kwokctl delete can return while its components are still exiting: give them a few seconds.
	var leftover []string
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		leftover = processesUnder(work)
		return len(leftover) == 0, nil
	})
	if len(leftover) > 0 {
		errs = append(errs, fmt.Errorf("processes still running from %s 10 s after kwokctl delete: %v", work, leftover))
	}
	if err := os.RemoveAll(work); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("local lane %s: down: %w", name, errors.Join(errs...))
	}
	log.Info("local lane down", "name", name)
	return nil
}

// auditPolicy records every request once, at its response, without bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

// Dir is the lane's work folder: every process the lane starts names it on its command line, and
// so does any process given the lane's kubeconfig.
func (l *Lane) Dir() string { return l.work }

// AuditLogPath is the API server's audit log (written only with Options.AuditLog).
func (l *Lane) AuditLogPath() string {
	return filepath.Join(clusterDir(l.work, l.opts.Name), "logs", "audit.log")
}

// copyKwokLogs keeps the control plane's logs (kwokctl's work folder goes with the lane), but not
// the audit log: tens of MB after a bench, read while the lane runs.
func copyKwokLogs(work, name, logDir string) {
	files, _ := filepath.Glob(filepath.Join(clusterDir(work, name), "logs", "*.log"))
	for _, f := range files {
		if filepath.Base(f) == "audit.log" {
			continue
		}
		in, err := os.Open(f)
		if err != nil {
			continue
		}
		out, err := os.Create(filepath.Join(logDir, filepath.Base(f)))
		if err == nil {
			_, _ = io.Copy(out, in)
			out.Close()
		}
		in.Close()
	}
}

// processesUnder lists processes whose command line mentions dir: anything the lane started
// (kwokctl's components included) that is still running.
func processesUnder(dir string) []string {
	var out []string
	for _, pid := range proc.Mentioning(dir + "/") {
		out = append(out, fmt.Sprintf("%d %s", pid, proc.Cmdline(pid)))
	}
	return out
}

// Components names the lane's supervised host processes (snapshot-controller, csi-driver,
// csi-provisioner, csi-snapshotter, and the same per extra driver), in start order: what
// KillRestart can crash. The control plane is kwokctl's, not ours to kill.
func (l *Lane) Components() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.st.Processes))
	for _, p := range l.st.Processes {
		names = append(names, p.Name)
	}
	return names
}

// KillRestart crashes the component name with SIGKILL (no shutdown: what it had in flight is
// lost, as in a node failure) and starts it again with the same command line, as a supervisor
// (a kubelet restarting a container) would; it returns once the new process has lived through its
// first second (a driver: once it serves its socket again). The lane's state file follows, so
// Down stops the new process.
func (l *Lane) KillRestart(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.st.Processes, func(p *proc.Process) bool { return p.Name == name })
	if i < 0 {
		return fmt.Errorf("local lane: no component %q to kill", name)
	}
	old := l.st.Processes[i]
	if err := old.Kill(); err != nil {
		return fmt.Errorf("local lane: %w", err)
	}
	p, err := l.restart(i)
	if err != nil {
		return err
	}
	// A component with a bad flag dies within its first second (as at Up): watch it that long,
	// failing as soon as it exits.
	if err := proc.Survive(ctx, time.Now().Add(time.Second), p); err != nil {
		return fmt.Errorf("local lane: after its restart: %w", err)
	}
	return nil
}

// restart starts the dead process i again with its command line and records it; a driver is
// restarted once it serves its socket again. The caller holds mu.
func (l *Lane) restart(i int) (*proc.Process, error) {
	old := l.st.Processes[i]
	name := old.Name
	// A driver's socket outlives a SIGKILL: remove it, so that waiting for it waits for the new
	// process's (the emulator removes a stale one itself, but only once it runs).
	var sock string
	if strings.HasPrefix(name, "csi-driver") {
		for _, d := range append([]string{l.opts.Profile.Driver}, l.opts.Profile.Local.ExtraDrivers...) {
			if s := socketPath(l.work, d); slices.ContainsFunc(old.Args, func(a string) bool { return strings.Contains(a, s) }) {
				sock = s
			}
		}
		if sock != "" {
			if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("local lane: %w", err)
			}
		}
	}
	p, err := old.Restart(nil)
	if err != nil {
		return nil, fmt.Errorf("local lane: %w", err)
	}
	l.st.Processes[i] = p
	if err := l.st.write(filepath.Join(l.work, "state.json")); err != nil {
		return nil, fmt.Errorf("local lane: %w", err)
	}
	if sock != "" {
		if err := waitSocket(sock, p, 20*time.Second); err != nil {
			return nil, l.died(name, err)
		}
	}
	return p, nil
}

// RestartExited starts again every supervised component that has exited on its own, as a kubelet
// restarts a container: a CSI sidecar exits when it loses its driver's connection (csi-lib-utils'
// ExitOnConnectionLoss), so after a driver's restart its sidecars die at their next call and
// must come back. It returns the names it restarted.
func (l *Lane) RestartExited() ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	var errs []error
	for i, p := range l.st.Processes {
		if p.Alive() {
			continue
		}
		if _, err := l.restart(i); err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, p.Name)
	}
	return names, errors.Join(errs...)
}
