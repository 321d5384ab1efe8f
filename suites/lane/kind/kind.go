package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	e2ekind "sigs.k8s.io/e2e-framework/support/kind"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// Options configure a kind lane.
type Options struct {
	// Name of the lane; the kind cluster is bpvc-<Name>.
	Name    string
	Profile *profile.Profile
	// Images is offline, upstream or auto (the default: upstream when a registry answers).
	Images string
	// ArtifactsDir receives the image build log and, at Down, the cluster's logs (kind-logs/).
	ArtifactsDir string
	Log          logr.Logger
}

// Lane is a running kind cluster with the profile's driver deployed.
type Lane struct {
	opts      Options
	cluster   *e2ekind.Cluster
	work      string
	cfg       *rest.Config
	c         client.Client
	images    images
	source    string
	versions  map[string]string
	kubeconf  string
	logDir    string
	clusterUp bool
}

var _ lane.Lane = (*Lane)(nil)

// Up builds or finds the images, creates the cluster, deploys the driver and the profile's classes,
// and waits until the driver is registered with the kubelet.
func Up(ctx context.Context, o Options) (l *Lane, err error) {
	if o.Name == "" || o.Profile == nil {
		return nil, errors.New("kind lane: a name and a profile are required")
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	if err := dockerAnswers(ctx); err != nil {
		return nil, err
	}
	kindBin, err := toolchain.Binary("kind", "kind")
	if err != nil {
		return nil, fmt.Errorf("kind lane: %w", err)
	}
	l = &Lane{opts: o, work: filepath.Join(os.TempDir(), "backuppvc-lanes", "kind-"+o.Name), logDir: filepath.Join(o.ArtifactsDir, "kind-logs")}
	if err := os.MkdirAll(l.work, 0o755); err != nil {
		return nil, err
	}
	// Logs an earlier run left (Down writes them) would pass for this cluster's until this Down.
	if err := os.RemoveAll(l.logDir); err != nil {
		return nil, fmt.Errorf("kind lane: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Down(context.Background()))
			l = nil
		}
	}()
	if l.source, err = resolveSource(ctx, o.Images, o.Log); err != nil {
		return l, err
	}
	start := time.Now()
	if l.images, err = buildImages(ctx, l.source, filepath.Join(o.ArtifactsDir, "kind-images.log")); err != nil {
		return l, err
	}
	versions, err := toolchain.Versions()
	if err != nil {
		return l, err
	}
	if l.source == ImagesUpstream {
		if l.images.Node, err = upstreamNodeImage(versions); err != nil {
			return l, err
		}
	}
	o.Log.Info("images ready", "node", l.images.Node, "sidecars", l.images.Sidecars, "emulator", l.images.Emulator,
		"dataMover", l.images.DataMover, "took", time.Since(start).Round(time.Millisecond).String())

	conf := filepath.Join(l.work, "kind.yaml")
	if err := os.WriteFile(conf, []byte(clusterConfig(l.source == ImagesOffline)), 0o644); err != nil {
		return l, err
	}
	start = time.Now()
	l.cluster = e2ekind.NewCluster("bpvc-" + o.Name)
	l.cluster.WithPath(kindBin).WithOpts(e2ekind.WithImage(l.images.Node))
	// A cluster of this name is one a killed run left (the provider would reuse it, stale objects
	// and all): start afresh.
	if out, err := exec.CommandContext(ctx, kindBin, "delete", "cluster", "--name", "bpvc-"+o.Name).CombinedOutput(); err != nil {
		return l, fmt.Errorf("kind lane: delete a leftover cluster bpvc-%s: %v: %s", o.Name, err, out)
	}
	l.clusterUp = true // from here on Down deletes the cluster, even half made
	if l.kubeconf, err = l.cluster.CreateWithConfig(ctx, conf); err != nil {
		return l, fmt.Errorf("kind lane: %w", err)
	}
	o.Log.Info("cluster created", "name", "bpvc-"+o.Name, "took", time.Since(start).Round(time.Millisecond).String())
	if l.cfg, err = clientcmd.BuildConfigFromFlags("", l.kubeconf); err != nil {
		return l, err
	}
	if l.c, err = client.New(l.cfg, client.Options{Scheme: kubescheme.New()}); err != nil {
		return l, err
	}
	// Offline, the sidecars are inside the node image already.
	load := []string{l.images.Emulator, l.images.DataMover}
	if l.source == ImagesUpstream {
		load = append(load, l.images.Sidecars)
	}
	for _, img := range load {
		if err := l.cluster.LoadImage(ctx, img); err != nil {
			return l, fmt.Errorf("kind lane: %w", err)
		}
	}
	o.Log.Info("images loaded into the node", "after", time.Since(start).Round(time.Millisecond).String())
	if l.source == ImagesOffline {
		if err := keepDNSInside(ctx, l.c); err != nil {
			return l, err
		}
	}
	// The API server answers as soon as kind returns: the CRDs and the driver go in while the
	// node's system pods settle.
	if err := lane.InstallCRDs(l.cfg); err != nil {
		return l, err
	}
	if err := l.deployDriver(ctx); err != nil {
		return l, err
	}
	o.Log.Info("CRDs, driver and classes created", "after", time.Since(start).Round(time.Millisecond).String())
	if err := waitSystemStable(ctx, l.c, 3*time.Minute, o.Log); err != nil {
		return l, err
	}
	o.Log.Info("node and kube-system pods Ready", "after", time.Since(start).Round(time.Millisecond).String())
	if err := l.waitDriver(ctx); err != nil {
		return l, err
	}
	o.Log.Info("driver registered with the kubelet and Ready", "after", time.Since(start).Round(time.Millisecond).String())
	l.versions = l.collectVersions(ctx, versions)
	o.Log.Info("kind lane ready", "took", time.Since(start).Round(time.Millisecond).String())
	return l, nil
}

// upstreamNodeImage is the kindest/node image pinned for KUBERNETES_VERSION's minor.
func upstreamNodeImage(versions map[string]string) (string, error) {
	k := versions["KUBERNETES_VERSION"]
	parts := strings.SplitN(strings.TrimPrefix(k, "v"), ".", 3)
	if len(parts) < 2 {
		return "", fmt.Errorf("kind lane: KUBERNETES_VERSION %q is not vMAJOR.MINOR.PATCH", k)
	}
	key := fmt.Sprintf("KIND_UPSTREAM_NODE_IMAGE_%s_%s", parts[0], parts[1])
	if img := versions[key]; img != "" {
		return img, nil
	}
	return "", fmt.Errorf("kind lane: no kindest/node image pinned for Kubernetes %s (add %s to hack/versions.env from kind %s's release notes)",
		k, key, versions["KIND_VERSION"])
}

// clusterConfig is one node, the API server on loopback only, and the kubelet told it may run on
// a cgroup v1 host (1.35 and later refuse to by default). Offline, the node's static CNI config
// replaces kind's default CNI, whose image cannot be pulled.
func clusterConfig(offline bool) string {
	cni := ""
	if offline {
		cni = "  disableDefaultCNI: true\n"
	}
	return `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  apiServerAddress: 127.0.0.1
` + cni + `nodes:
- role: control-plane
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  failCgroupV1: false
`
}

// dockerAnswers checks that the Docker engine kind will use is there, with a hint when it is not.
func dockerAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("kind lane: no Docker engine answers (DOCKER_HOST=%q): %s; make e2e LANE=kind starts one (hack/kind/docker.sh up)",
			os.Getenv("DOCKER_HOST"), strings.TrimSpace(string(out)))
	}
	return nil
}

// waitSystemStable waits until the node is Ready and every kube-system pod but CoreDNS's is Ready
// in three polls in a row (readiness probes flap in a node's first seconds).
func waitSystemStable(ctx context.Context, c client.Client, timeout time.Duration, log logr.Logger) error {
	stable := 0
	var last, logged string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		var nodes corev1.NodeList
		var pods corev1.PodList
		if err := c.List(ctx, &nodes); err != nil {
			last = err.Error()
			return false, nil
		}
		if err := c.List(ctx, &pods, client.InNamespace("kube-system")); err != nil {
			last = err.Error()
			return false, nil
		}
		// CoreDNS is left out: nothing the lane runs resolves names (the sidecars and backupPods
		// reach the API server by the service IP), and its readiness probe, every 10 s, after the
		// restart keepDNSInside causes, would add 20 s or more to every bring-up.
		system := slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return p.Labels["k8s-app"] == "kube-dns" })
		notReady := notReadyNodes(nodes.Items)
		notReady = append(notReady, notReadyPods(system)...)
		if len(nodes.Items) == 0 || len(pods.Items) == 0 {
			notReady = append(notReady, "no node or no kube-system pod yet")
		}
		if len(notReady) > 0 {
			stable, last = 0, strings.Join(notReady, "; ")
			if last != logged {
				log.Info("waiting for", "notReady", last)
				logged = last
			}
			return false, nil
		}
		stable++
		return stable >= 3, nil
	})
	if err != nil {
		return fmt.Errorf("kind lane: the node and kube-system pods were not Ready within %s; last seen: %s", timeout, last)
	}
	return nil
}

func notReadyNodes(nodes []corev1.Node) []string {
	var out []string
	for _, n := range nodes {
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready = c.Status == corev1.ConditionTrue
				if !ready {
					out = append(out, fmt.Sprintf("node %s: %s", n.Name, c.Message))
				}
			}
		}
		if !ready && len(out) == 0 {
			out = append(out, "node "+n.Name+" not Ready")
		}
	}
	return out
}

// notReadyPods describes the pods that are not Ready, with their containers' waiting reasons.
func notReadyPods(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if ready || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		why := string(p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				why += fmt.Sprintf(", %s: %s %s", cs.Name, w.Reason, w.Message)
			}
		}
		out = append(out, fmt.Sprintf("pod %s/%s %s", p.Namespace, p.Name, why))
	}
	return out
}

// deployDriver deploys the profile's driver and makes its classes.
func (l *Lane) deployDriver(ctx context.Context) error {
	p := l.opts.Profile
	var drivers []string
	switch {
	case p.Driver == "hostpath.csi.k8s.io":
		if err := l.deployHostpath(ctx); err != nil {
			return err
		}
	case p.Local != nil && p.Local.Package != "":
		objs, err := rbacObjects(ctx)
		if err != nil {
			return err
		}
		objs = append(emulatorObjects(p, l.images.Emulator, l.images.Sidecars), objs...)
		for _, o := range objs {
			if err := l.c.Create(ctx, o); err != nil {
				return fmt.Errorf("kind lane: create %T %s: %w", o, o.GetName(), err)
			}
		}
		drivers = append([]string{p.Driver}, p.Local.ExtraDrivers...)
	default:
		return fmt.Errorf("kind lane: profile %s says how to run its driver neither as the emulator (local.package) nor as csi-driver-host-path", p.Name)
	}
	if _, err := lane.Prepare(ctx, l.c, p, drivers); err != nil {
		return fmt.Errorf("kind lane: %w", err)
	}
	return nil
}

// waitDriver waits until the kubelet has registered the profile's driver on the node (CSINode
// lists it) and every pod of the driver is Ready.
func (l *Lane) waitDriver(ctx context.Context) error {
	p := l.opts.Profile
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var nodes storagev1.CSINodeList
		if err := l.c.List(ctx, &nodes); err != nil {
			last = err.Error()
			return false, nil
		}
		for _, n := range nodes.Items {
			for _, d := range n.Spec.Drivers {
				if d.Name == p.Driver {
					return l.driverPodsReady(ctx, &last)
				}
			}
		}
		last = "the kubelet has not registered " + p.Driver + " (no CSINode entry)"
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("kind lane: driver %s not ready within 2m: %s", p.Driver, last)
	}
	return nil
}

// driverPodsReady says whether every pod of the driver's namespace is Ready.
func (l *Lane) driverPodsReady(ctx context.Context, last *string) (bool, error) {
	var pods corev1.PodList
	if err := l.c.List(ctx, &pods, client.InNamespace(l.driverNamespace())); err != nil {
		*last = err.Error()
		return false, nil
	}
	if bad := notReadyPods(pods.Items); len(bad) > 0 || len(pods.Items) == 0 {
		*last = "driver pods: " + strings.Join(bad, "; ")
		return false, nil
	}
	return true, nil
}

func (l *Lane) driverNamespace() string {
	if l.opts.Profile.Driver == "hostpath.csi.k8s.io" {
		return hostpathNamespace
	}
	return DriverNamespace
}

func (l *Lane) collectVersions(ctx context.Context, v map[string]string) map[string]string {
	out := map[string]string{
		"kind":                                 v["KIND_VERSION"],
		"node image":                           l.images.Node + " (" + l.source + ")",
		"csi-provisioner":                      v["EXTERNAL_PROVISIONER_VERSION"],
		"csi-snapshotter, snapshot-controller": v["EXTERNAL_SNAPSHOTTER_VERSION"],
		"backupPod image":                      l.images.DataMover + " (this repository's data mover stand-in)",
	}
	if dc, err := discovery.NewDiscoveryClientForConfig(l.cfg); err == nil {
		if sv, err := dc.ServerVersion(); err == nil {
			out["kubernetes (kubelet, control plane)"] = sv.GitVersion
		}
	}
	if docker, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Output(); err == nil {
		out["docker engine"] = strings.TrimSpace(string(docker))
	}
	if l.opts.Profile.Local != nil && l.opts.Profile.Local.Package != "" {
		out["csi driver"] = fmt.Sprintf("%s (%s, image %s)", l.opts.Profile.Driver, l.opts.Profile.Local.Package, l.images.Emulator)
	}
	return out
}

// RealKubelet: a kind node runs pods for real.
func (l *Lane) RealKubelet() bool { return true }

// BackupPodImage is the image the system under test must give its backupPods.
func (l *Lane) BackupPodImage() string { return l.images.DataMover }

// ClusterName is the kind cluster's name (for kind load).
func (l *Lane) ClusterName() string { return "bpvc-" + l.opts.Name }

// Name is the lane's name.
func (l *Lane) Name() string { return l.opts.Name }

// Kind is "kind".
func (l *Lane) Kind() string { return "kind" }

// Kubeconfig is the cluster's kubeconfig file.
func (l *Lane) Kubeconfig() string { return l.kubeconf }

// RESTConfig is the cluster's client configuration.
func (l *Lane) RESTConfig() *rest.Config { return l.cfg }

// Versions names every component and its version.
func (l *Lane) Versions() map[string]string { return l.versions }

// LogDir is where Down writes the cluster's logs.
func (l *Lane) LogDir() string { return l.logDir }

// Healthy reports driver containers that restarted or stopped since the lane came up.
func (l *Lane) Healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pods corev1.PodList
	if err := l.c.List(ctx, &pods, client.InNamespace(l.driverNamespace())); err != nil {
		return fmt.Errorf("kind lane: list driver pods: %w", err)
	}
	var errs []error
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount == 0 && cs.State.Running != nil {
				continue
			}
			why := ""
			if t := cs.LastTerminationState.Terminated; t != nil {
				why = fmt.Sprintf(": last exit %d %s %s", t.ExitCode, t.Reason, strings.TrimSpace(t.Message))
			}
			errs = append(errs, fmt.Errorf("%s/%s container %s restarted %d times%s", p.Namespace, p.Name, cs.Name, cs.RestartCount, why))
		}
	}
	return errors.Join(errs...)
}

// Down collects the cluster's logs into the artifacts and deletes the cluster and the work folder.
func (l *Lane) Down(ctx context.Context) error {
	var errs []error
	if l.clusterUp {
		if l.c != nil {
			logCtx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := l.collectLogs(logCtx); err != nil {
				l.opts.Log.Info("could not collect all of the cluster's logs", "error", err.Error())
			}
			cancel()
		}
		if err := l.cluster.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, os.RemoveAll(l.work))
	return errors.Join(errs...)
}
