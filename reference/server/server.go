package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/backuppvc-conformance/harness/reference/config"
	"github.com/backuppvc-conformance/harness/reference/controller"
	"github.com/backuppvc-conformance/harness/reference/exposer"
)

// Options configures the reference server. Names follow Velero's flags where Velero has them.
type Options struct {
	// Namespace is the Velero namespace: Backups, DataUploads and the exposed objects live there.
	Namespace string
	// NodeAgentConfigMap names the node-agent ConfigMap in Namespace ("" for none, spec A6).
	NodeAgentConfigMap string
	// PrepareTimeout is Velero's --data-mover-prepare-timeout (default 30m).
	PrepareTimeout time.Duration
	// PrepareCheckInterval is how often an Accepted DataUpload is checked (default 1s).
	PrepareCheckInterval time.Duration
	// Image is the backupPod image; Command overrides its command.
	Image   string
	Command []string
	// Workers is how many DataUploads (and Backups) are reconciled at once.
	Workers int
	// NodeName is recorded as the DataUpload's acceptedByNode.
	NodeName string
	// MetricsAddr serves controller metrics ("0" disables).
	MetricsAddr string
	Log         logr.Logger
	// Clock is for tests; nil means the real clock.
	Clock clock.PassiveClock
}

// DefaultImage is the backupPod image Velero v1.18.3's exposer takes from its node-agent
// DaemonSet, the version the reference models. The binary carries it as a literal (it reads no pin
// file at run time); TestDefaultImageIsThePinnedVelero keeps it equal to VELERO_VERSION in
// hack/versions.env.
const DefaultImage = "velero/velero:v1.18.3"

// DefaultOptions are Velero's defaults where Velero has them.
func DefaultOptions() Options {
	return Options{
		Namespace:            "velero",
		PrepareTimeout:       30 * time.Minute,
		PrepareCheckInterval: time.Second,
		Image:                DefaultImage,
		Workers:              10,
		NodeName:             "backuppvc-reference",
		MetricsAddr:          "0",
		Log:                  logr.Discard(),
	}
}

func (o Options) validate() error {
	var errs []error
	if o.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if o.PrepareTimeout <= 0 {
		errs = append(errs, fmt.Errorf("data-mover-prepare-timeout must be positive, got %v", o.PrepareTimeout))
	}
	if o.PrepareCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("prepare-check-interval must be positive, got %v", o.PrepareCheckInterval))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers must be at least 1, got %d", o.Workers))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("backup-pod-image is empty"))
	}
	return errors.Join(errs...)
}

// Run loads the node-agent configuration once and runs the controllers until ctx ends. A
// configuration Velero's node-agent would refuse stops it before anything starts (spec A4).
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	if err := o.validate(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	scheme := controller.Scheme()
	direct, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("server: client: %w", err)
	}
	agentConfig, err := config.Load(ctx, direct, o.Namespace, o.NodeAgentConfigMap)
	if err != nil {
		return fmt.Errorf("server: node-agent config: %w", err)
	}
	o.Log.Info("node-agent config loaded", "configMap", o.NodeAgentConfigMap, "backupPVC", agentConfig.BackupPVCConfig)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 o.Log,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{o.Namespace: {}}},
	})
	if err != nil {
		return fmt.Errorf("server: manager: %w", err)
	}
	du := &controller.DataUploadReconciler{
		Client: mgr.GetClient(), Reader: direct,
		Exposer:  exposer.New(direct, exposer.WithLogger(o.Log.WithName("exposer")), exposer.WithPodReader(mgr.GetClient())),
		Config:   agentConfig,
		Clock:    o.Clock,
		Log:      o.Log.WithName("dataupload"),
		NodeName: o.NodeName, PrepareTimeout: o.PrepareTimeout, PrepareCheckInterval: o.PrepareCheckInterval,
		Image: o.Image, Command: o.Command,
	}
	if err := du.SetupWithManager(mgr, o.Workers); err != nil {
		return fmt.Errorf("server: dataupload controller: %w", err)
	}
	backup := &controller.BackupReconciler{
		Client: mgr.GetClient(), Cluster: direct, Namespace: o.Namespace, Clock: o.Clock,
		Log: o.Log.WithName("backup"), Recorder: mgr.GetEventRecorder("backuppvc-reference"), Poll: 250 * time.Millisecond,
	}
	if err := backup.SetupWithManager(mgr, o.Workers); err != nil {
		return fmt.Errorf("server: backup controller: %w", err)
	}
	o.Log.Info("starting", "namespace", o.Namespace, "prepareTimeout", o.PrepareTimeout.String(), "image", o.Image)
	return mgr.Start(ctx)
}
