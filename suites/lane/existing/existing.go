// Package existing is the lane of a cluster somebody else runs (a vendor's, with its CSI driver
// installed): the harness only adds the profile's classes marked create and removes them after.
package existing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// Lane is a connection to an existing cluster.
type Lane struct {
	kubeconfig  string
	cfg         *rest.Config
	c           client.Client
	created     []client.Object
	profile     *profile.Profile
	podImage    string
	realKubelet bool
	failsPods   bool
	// crds are the CRDs WithInstallCRDs created.
	crds []client.Object
}

var (
	_ lane.Lane      = (*Lane)(nil)
	_ lane.PodFailer = (*Lane)(nil)
)

// FailsUnrecoverablePods: as WithUnrecoverablePods said.
func (l *Lane) FailsUnrecoverablePods() bool { return l.failsPods }

// Option changes how Connect works with the cluster.
type Option func(*options)

type options struct {
	backupPodImage string
	installCRDs    bool
	failsPods      bool
}

// WithBackupPodImage says where the nodes find the harness's data mover image ("": the
// profile's backupPodImage).
func WithBackupPodImage(image string) Option { return func(o *options) { o.backupPodImage = image } }

// WithInstallCRDs installs the Velero and snapshot CRDs the cluster lacks, from the pinned
// modules, and Down removes exactly those (never a CRD the cluster had).
func WithInstallCRDs() Option { return func(o *options) { o.installCRDs = true } }

// WithUnrecoverablePods says the cluster fails every pod named lane.UnrecoverablePodPrefix...
// before it runs (a kwok stage as the local lane's; the negative controls' local lane run as an
// existing one), so the spec of an unrecoverable backupPod can run on it.
func WithUnrecoverablePods() Option { return func(o *options) { o.failsPods = true } }

// Connect runs the preflight (the cluster answers, serves the snapshot and Velero APIs, runs a
// snapshot controller, has the profile's classes as the profile says, lets the user do what the
// run does), finds out whether a real kubelet runs the driver (then the backupPod image must
// run there), and makes the profile's classes marked create.
func Connect(ctx context.Context, kubeconfig string, p *profile.Profile, opts ...Option) (*Lane, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if kubeconfig == "" {
		return nil, fmt.Errorf("existing lane: give KUBECONFIG")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("existing lane: kubeconfig %s: %w", kubeconfig, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return nil, fmt.Errorf("existing lane: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("existing lane: %w", err)
	}
	if o.backupPodImage == "" {
		o.backupPodImage = p.BackupPodImage
	}
	l := &Lane{kubeconfig: kubeconfig, cfg: cfg, c: c, profile: p, podImage: o.backupPodImage, failsPods: o.failsPods}
	if o.installCRDs {
		if l.crds, err = installCRDs(ctx, cfg, c); err != nil {
			return nil, errors.Join(err, removeCRDs(ctx, c, l.crds))
		}
	}
	// From here on, a failure takes back what Connect made.
	fail := func(err error) (*Lane, error) { return nil, errors.Join(err, l.Down(ctx)) }
	if err := preflight(ctx, cs.Discovery(), c, p, snapshotControllerWait); err != nil {
		return fail(err)
	}
	if l.realKubelet, err = realKubelet(ctx, c, p.Driver); err != nil {
		return fail(fmt.Errorf("existing lane: listing the nodes: %w", err))
	}
	if l.realKubelet && l.podImage == "" {
		return fail(fmt.Errorf("existing lane: a kubelet runs %s here, so backupPods will run, and no image of the harness's data mover is given for them: make datamover-image, push it where your nodes pull from, and give BACKUP_POD_IMAGE=<it, by digest> (or backupPodImage: in profile %s)", p.Driver, p.Name))
	}
	if l.realKubelet {
		if problems := imageProblems(ctx, c, l.podImage, imageCheckWait); len(problems) > 0 {
			return fail(errors.New("existing lane: " + strings.Join(problems, "\nexisting lane: ")))
		}
	}
	l.created, err = lane.Prepare(ctx, c, p, nil)
	if err != nil {
		return fail(fmt.Errorf("existing lane: %w", err))
	}
	return l, nil
}

// Name is the cluster's API server address.
func (l *Lane) Name() string { return l.cfg.Host }

// Kind is "existing".
func (l *Lane) Kind() string { return "existing" }

// Kubeconfig is the file given.
func (l *Lane) Kubeconfig() string { return l.kubeconfig }

// RESTConfig is the cluster's client configuration.
func (l *Lane) RESTConfig() *rest.Config { return l.cfg }

// RealKubelet: a node that kwok does not simulate runs the driver (its CSINode lists it).
func (l *Lane) RealKubelet() bool { return l.realKubelet }

// BackupPodImage is the harness's data mover image on the cluster's nodes ("" when not given:
// then no spec that needs a data path runs).
func (l *Lane) BackupPodImage() string { return l.podImage }

// Versions reports the API server's version, the driver and the backupPod image.
func (l *Lane) Versions() map[string]string {
	v := map[string]string{"driver": l.profile.Driver + " (installed by the cluster's owner)"}
	kubelet := "simulated or without the driver: backupPods do not run, data path not exercised"
	if l.realKubelet {
		kubelet = "real, the driver registered in CSINode"
	}
	v["kubelet"] = kubelet
	if l.podImage != "" {
		v["backupPod image"] = l.podImage + " (the harness's data mover)"
	}
	if dc, err := discoveryVersion(l.cfg); err == nil {
		v["kube-apiserver"] = dc
	}
	return v
}

// LogDir: an existing cluster's component logs are not ours to collect.
func (l *Lane) LogDir() string { return "" }

// Healthy: nothing of ours runs there.
func (l *Lane) Healthy() error { return nil }

// Down removes the classes the harness made, then the CRDs it installed.
func (l *Lane) Down(ctx context.Context) error {
	return errors.Join(lane.Unprepare(ctx, l.c, l.created), removeCRDs(ctx, l.c, l.crds))
}
