// Package existing is the lane of a cluster somebody else runs (a vendor's, with its CSI driver
// installed): the harness only adds the profile's classes marked create and removes them after.
package existing

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// Lane is a connection to an existing cluster.
type Lane struct {
	kubeconfig string
	cfg        *rest.Config
	c          client.Client
	created    []client.Object
	profile    *profile.Profile
}

var _ lane.Lane = (*Lane)(nil)

// Connect checks the cluster answers and serves the snapshot and Velero APIs, and makes the
// profile's classes.
func Connect(ctx context.Context, kubeconfig string, p *profile.Profile) (*Lane, error) {
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
	l := &Lane{kubeconfig: kubeconfig, cfg: cfg, c: c, profile: p}
	l.created, err = lane.Prepare(ctx, c, p, nil)
	if err != nil {
		_ = lane.Unprepare(ctx, c, l.created)
		return nil, fmt.Errorf("existing lane: %w", err)
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

// Versions reports the API server's version.
func (l *Lane) Versions() map[string]string {
	v := map[string]string{"driver": l.profile.Driver + " (installed by the cluster's owner)"}
	if dc, err := discoveryVersion(l.cfg); err == nil {
		v["kube-apiserver"] = dc
	}
	return v
}

// LogDir: an existing cluster's component logs are not ours to collect.
func (l *Lane) LogDir() string { return "" }

// Healthy: nothing of ours runs there.
func (l *Lane) Healthy() error { return nil }

// Down removes the classes the harness made.
func (l *Lane) Down(ctx context.Context) error { return lane.Unprepare(ctx, l.c, l.created) }
