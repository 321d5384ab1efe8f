package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/lane/existing"
	"github.com/backuppvc-conformance/harness/suites/lane/kind"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// NodeAgentConfigMap is the ConfigMap name the system under test is started with.
const NodeAgentConfigMap = "node-agent-config"

// Shared is what the first Ginkgo process hands to every process.
type Shared struct {
	Kubeconfig string `json:"kubeconfig"`
	RunID      string `json:"runID"`
	VeleroNS   string `json:"veleroNS"`
	// LaneLogDir is the folder of the lane's component logs, written as they run ("" if none).
	LaneLogDir string `json:"laneLogDir"`
	// LaneLogNamespaces hold the pods whose logs are the lane's component logs, for a lane that
	// writes its log folder only when it goes down (kind).
	LaneLogNamespaces []string `json:"laneLogNamespaces,omitempty"`
	// RealKubelet: the lane runs pods for real (kind).
	RealKubelet bool `json:"realKubelet"`
	// FailsUnrecoverablePods: the lane makes every pod named lane.UnrecoverablePodPrefix... fail
	// before it runs (lane.PodFailer).
	FailsUnrecoverablePods bool `json:"failsUnrecoverablePods"`
	// AffinityHostname is the hostname label of the node the loadAffinity scenario's backupPods
	// must require ("": no schedulable node has one, and the scenario is skipped).
	AffinityHostname string `json:"affinityHostname"`
	// MoverImage is the lane's image of the harness's data mover ("" if none): the suites' fill
	// pods run it, and a system under test whose backupPods run the harness's data mover gets it.
	MoverImage string `json:"moverImage"`
	// SUT is the system under test's configuration: sut.New(SUT) in any process gives it.
	SUT sut.Config `json:"sut"`
}

// Options says where and against what the suites run.
type Options struct {
	Lane       string
	LaneName   string
	Kubeconfig string
	Profile    *profile.Profile
	Artifacts  string
	// KindImages is the kind lane's image source: offline, upstream or auto.
	KindImages string
	// BackupPodImage is the harness's data mover image on an existing cluster's nodes ("": the
	// profile's backupPodImage).
	BackupPodImage string
	// InstallCRDs: on an existing cluster, install the Velero and snapshot CRDs it lacks (and
	// remove exactly those at the end).
	InstallCRDs bool
	// UnrecoverablePods: the existing cluster fails every pod named lane.UnrecoverablePodPrefix...
	// before it runs (existing.WithUnrecoverablePods).
	UnrecoverablePods bool
	// SUT names the system under test (sut.Names).
	SUT string
	Log logr.Logger
}

func (o Options) existingOptions() []existing.Option {
	opts := []existing.Option{existing.WithBackupPodImage(o.BackupPodImage)}
	if o.InstallCRDs {
		opts = append(opts, existing.WithInstallCRDs())
	}
	if o.UnrecoverablePods {
		opts = append(opts, existing.WithUnrecoverablePods())
	}
	return opts
}

// Setup is the run-wide state the first process owns.
type Setup struct {
	Lane    lane.Lane
	SUT     sut.SUT
	Shared  Shared
	created []client.Object
	// c is a client of the lane's cluster.
	c client.Client
}

// RESTConfig builds a client configuration from a kubeconfig file.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// Resources is an e2e-framework client knowing the snapshot and Velero types.
func Resources(cfg *rest.Config) (*resources.Resources, error) {
	r, err := resources.New(cfg)
	if err != nil {
		return nil, err
	}
	for _, add := range []func(*runtime.Scheme) error{snapshotv1.AddToScheme, velerov1.AddToScheme, velerov2alpha1.AddToScheme} {
		if err := add(r.GetScheme()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func managedLabels() map[string]string { return lane.ManagedLabels(nil) }

// SetUp brings the lane up, makes the run's namespace, source-class aliases and node-agent
// ConfigMap, and starts the system under test.
func SetUp(ctx context.Context, o Options, scenarios []Scenario) (s *Setup, err error) {
	s = &Setup{}
	// The system's build needs no cluster: on a warm run it is the go command's up-to-date check
	// (0.5 s, most of the system's start), run while the lane's bring-up mostly waits.
	built := make(chan error, 1)
	go func() { built <- sut.Build(ctx, o.SUT) }()
	switch o.Lane {
	case "local":
		s.Lane, err = local.Up(ctx, local.Options{Name: o.LaneName, Profile: o.Profile, ArtifactsDir: o.Artifacts, Log: o.Log})
	case "existing":
		s.Lane, err = existing.Connect(ctx, o.Kubeconfig, o.Profile, o.existingOptions()...)
	case "kind":
		s.Lane, err = kind.Up(ctx, kind.Options{Name: o.LaneName, Profile: o.Profile, Images: o.KindImages, ArtifactsDir: o.Artifacts, Log: o.Log})
	default:
		err = fmt.Errorf("unknown lane %q (local, kind or existing)", o.Lane)
	}
	if err != nil {
		return nil, errors.Join(err, <-built)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.TearDown(context.Background()))
			s = nil
		}
	}()
	if err := <-built; err != nil {
		return s, err
	}
	runID, err := newRunID()
	if err != nil {
		return s, err
	}
	s.Shared = Shared{Kubeconfig: s.Lane.Kubeconfig(), RunID: runID, VeleroNS: "bpvc-velero-" + runID}
	if live, ok := s.Lane.(interface{ LogNamespaces() []string }); ok {
		s.Shared.LaneLogNamespaces = live.LogNamespaces()
	} else {
		s.Shared.LaneLogDir = s.Lane.LogDir()
	}
	if k, ok := s.Lane.(interface{ RealKubelet() bool }); ok {
		s.Shared.RealKubelet = k.RealKubelet()
	}
	if f, ok := s.Lane.(lane.PodFailer); ok {
		s.Shared.FailsUnrecoverablePods = f.FailsUnrecoverablePods()
	}
	if withImage, ok := s.Lane.(interface{ BackupPodImage() string }); ok {
		s.Shared.MoverImage = withImage.BackupPodImage()
	}
	s.Shared.SUT = sut.Config{SUT: o.SUT, Lane: s.Lane.Kind(), Kubeconfig: s.Shared.Kubeconfig, Namespace: s.Shared.VeleroNS,
		NodeAgentConfigMap: NodeAgentConfigMap, PrepareTimeout: o.Profile.Timeouts.Prepare.Duration, RealKubelet: s.Shared.RealKubelet,
		BackupPodImage: s.Shared.MoverImage, WorkDir: filepath.Join(os.TempDir(), "backuppvc-sut", o.SUT+"-"+runID),
		LogDir: filepath.Join(o.Artifacts, "sut", o.SUT), Built: true}
	if k, ok := s.Lane.(interface{ ClusterName() string }); ok {
		s.Shared.SUT.KindCluster = k.ClusterName()
	}
	if s.SUT, err = sut.New(s.Shared.SUT); err != nil {
		return s, err
	}
	if err := sut.SweepStale(s.Shared.SUT.WorkDir); err != nil {
		return s, err
	}
	c, err := client.New(s.Lane.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return s, err
	}
	s.c = c
	create := func(obj client.Object) error {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
		s.created = append(s.created, obj)
		return nil
	}
	if err := create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Shared.VeleroNS, Labels: managedLabels()}}); err != nil {
		return s, err
	}
	src, _ := o.Profile.Class(profile.RoleSource)
	srcClass := &storagev1.StorageClass{}
	if err := c.Get(ctx, client.ObjectKey{Name: src.Name}, srcClass); err != nil {
		return s, fmt.Errorf("source class %s: %w", src.Name, err)
	}
	for _, sc := range scenarios {
		alias := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc.SourceClass(runID), Labels: managedLabels()},
			Provisioner: srcClass.Provisioner, Parameters: sc.SourceParameters(o.Profile, srcClass.Parameters), ReclaimPolicy: srcClass.ReclaimPolicy,
			VolumeBindingMode: srcClass.VolumeBindingMode, AllowVolumeExpansion: srcClass.AllowVolumeExpansion}
		if err := create(alias); err != nil {
			return s, err
		}
	}
	classes := ClassesFor(o.Profile, runID)
	if s.Shared.AffinityHostname, err = affinityHostname(ctx, c); err != nil {
		return s, err
	}
	if backup, ok := o.Profile.Class(profile.RoleBackup); ok && s.Shared.AffinityHostname != "" {
		orig := &storagev1.StorageClass{}
		if err := c.Get(ctx, client.ObjectKey{Name: backup.Name}, orig); err != nil {
			return s, fmt.Errorf("backup class %s: %w", backup.Name, err)
		}
		if err := create(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: classes.Affine, Labels: managedLabels()},
			Provisioner: orig.Provisioner, Parameters: orig.Parameters, ReclaimPolicy: orig.ReclaimPolicy,
			VolumeBindingMode: orig.VolumeBindingMode, AllowVolumeExpansion: orig.AllowVolumeExpansion}); err != nil {
			return s, err
		}
	}
	doc := NodeAgentConfig(scenarios, runID, classes, s.Shared.AffinityHostname)
	if err := create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: s.Shared.VeleroNS, Name: NodeAgentConfigMap, Labels: managedLabels()},
		Data: map[string]string{"node-agent-config.json": doc}}); err != nil {
		return s, err
	}
	started, start := s.SUT, time.Now()
	s.SUT = nil // Start removes what it made when it fails
	if err := started.Start(ctx); err != nil {
		return s, err
	}
	s.SUT = started
	o.Log.Info("system under test ready", "sut", started.Name(), "took", time.Since(start).Round(time.Millisecond).String())
	return s, nil
}

// affinityHostname is the hostname label of the first schedulable, Ready node by name: the one
// the loadAffinity scenario (C5) sends its backupPod to.
func affinityHostname(ctx context.Context, c client.Client) (string, error) {
	nodes := &corev1.NodeList{}
	if err := c.List(ctx, nodes); err != nil {
		return "", fmt.Errorf("listing nodes: %w", err)
	}
	slices.SortFunc(nodes.Items, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range nodes.Items {
		if h := n.Labels[HostnameLabel]; h != "" && lane.Schedulable(&n) {
			return h, nil
		}
	}
	return "", nil
}

// Finish is the run's last check and its end: it looks at what Velero's expose left in the
// Velero namespace, whether a lane component or the system under test died, and then tears
// everything down whatever those say (a failed check must not leave the lane running). Its error
// names every fault found.
func (s *Setup) Finish(ctx context.Context) error {
	var errs []error
	if left, err := Leftovers(ctx, s.c, s.Shared.VeleroNS); err != nil {
		errs = append(errs, fmt.Errorf("looking for leftovers: %w", err))
	} else if len(left) > 0 {
		errs = append(errs, fmt.Errorf("objects of Velero's expose left at the end of the run: %s", strings.Join(left, ", ")))
	}
	if err := s.Lane.Healthy(); err != nil {
		errs = append(errs, fmt.Errorf("a lane component died during the run: %w", err))
	}
	if s.SUT != nil {
		if err := s.SUT.Running(); err != nil {
			errs = append(errs, fmt.Errorf("the system under test died during the run: %w", err))
		}
	}
	if err := s.TearDown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("tearing the lane down: %w", err))
	}
	return errors.Join(errs...)
}

// TearDown deletes the run's DataUploads and waits for the system under test to let them go,
// stops it, releases any it still held (so the Velero namespace can go), removes any namespace of the run the specs left behind
// (and fails, naming them: each spec removes its own), deletes what SetUp made, and takes the lane
// down.
func (s *Setup) TearDown(ctx context.Context) error {
	var errs []error
	switch {
	case s.SUT != nil && s.c != nil:
		if err := sut.StopDraining(ctx, s.c, s.Shared.VeleroNS, s.SUT, 2*time.Minute); err != nil {
			errs = append(errs, err)
		}
	case s.SUT != nil:
		if err := s.SUT.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Lane != nil && s.Lane.RESTConfig() != nil {
		if c, err := client.New(s.Lane.RESTConfig(), client.Options{Scheme: kubescheme.New()}); err == nil {
			if err := sweepRunNamespaces(ctx, c, s.Shared.RunID, s.Shared.VeleroNS); err != nil {
				errs = append(errs, err)
			}
			for i := len(s.created) - 1; i >= 0; i-- {
				if err := c.Delete(ctx, s.created[i]); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
		}
	}
	if s.Lane != nil {
		if err := s.Lane.Down(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what Velero's expose made in the Velero namespace and is still there: exposer
// pods, PVCs, VolumeSnapshots, and the contents and volumes bound to them. With names given, only
// the objects of those DataUploads count. The node-agent DaemonSet's own pods are not the
// expose's.
func Leftovers(ctx context.Context, c client.Client, veleroNS string, names ...string) ([]string, error) {
	want := func(name string) bool { return len(names) == 0 || slices.Contains(names, name) }
	var left []string
	for _, l := range []struct {
		kind string
		list client.ObjectList
	}{{"pod", &corev1.PodList{}}, {"backupPVC", &corev1.PersistentVolumeClaimList{}}, {"backupVS", &snapshotv1.VolumeSnapshotList{}}} {
		if err := c.List(ctx, l.list, client.InNamespace(veleroNS)); err != nil {
			return nil, err
		}
		if err := meta.EachListItem(l.list, func(o runtime.Object) error {
			obj := o.(client.Object)
			// The system's own pods (a node-agent DaemonSet's, an installed server's Deployment's)
			// are not part of any expose.
			if want(obj.GetName()) && !ownedBy(obj, "DaemonSet") && !ownedBy(obj, "ReplicaSet") {
				left = append(left, l.kind+" "+obj.GetName()+heldBy(obj.GetDeletionTimestamp(), obj.GetFinalizers()))
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	// The copies (B10) carry their DataUpload's UID, not its name: the run-wide check finds them.
	if len(names) == 0 {
		for _, l := range []struct {
			kind string
			list client.ObjectList
		}{{"copied secret", &corev1.SecretList{}}, {"copied configmap", &corev1.ConfigMapList{}}} {
			if err := c.List(ctx, l.list, client.InNamespace(veleroNS), client.HasLabels{CopyLabel}); err != nil {
				return nil, err
			}
			if err := meta.EachListItem(l.list, func(o runtime.Object) error {
				left = append(left, l.kind+" "+o.(client.Object).GetName())
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	vscs := &snapshotv1.VolumeSnapshotContentList{}
	if err := c.List(ctx, vscs); err != nil {
		return nil, err
	}
	for _, v := range vscs.Items {
		if v.Spec.VolumeSnapshotRef.Namespace == veleroNS && want(v.Spec.VolumeSnapshotRef.Name) {
			left = append(left, "backupVSC "+v.Name)
		}
	}
	pvs := &corev1.PersistentVolumeList{}
	if err := c.List(ctx, pvs); err != nil {
		return nil, err
	}
	for _, v := range pvs.Items {
		if v.Spec.ClaimRef != nil && v.Spec.ClaimRef.Namespace == veleroNS && want(v.Spec.ClaimRef.Name) {
			left = append(left, "backup PV "+v.Name)
		}
	}
	return left, nil
}

func ownedBy(obj client.Object, kind string) bool {
	return slices.ContainsFunc(obj.GetOwnerReferences(), func(o metav1.OwnerReference) bool { return o.Kind == kind })
}

func newRunID() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// waitStep is how often the specs look at the cluster.
const waitStep = 200 * time.Millisecond

// heldBy says when an object is being deleted but a finalizer keeps it.
func heldBy(deleting *metav1.Time, finalizers []string) string {
	if deleting == nil {
		return ""
	}
	return fmt.Sprintf(" (deleted at %s, held by finalizers %v)", deleting.Format(time.TimeOnly), finalizers)
}

// sweepRunNamespaces deletes the namespaces of run runID (the harness's label, a name starting
// bpvc-<runID>-) that nothing is deleting yet, other than keep, and names them in its error.
func sweepRunNamespaces(ctx context.Context, c client.Client, runID, keep string) error {
	if runID == "" {
		return nil
	}
	nss := &corev1.NamespaceList{}
	if err := c.List(ctx, nss, client.MatchingLabels(managedLabels())); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var left []string
	for _, ns := range nss.Items {
		if ns.Name == keep || !strings.HasPrefix(ns.Name, "bpvc-"+runID+"-") || ns.DeletionTimestamp != nil {
			continue
		}
		left = append(left, ns.Name)
		if err := c.Delete(ctx, &ns); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("sweep: delete namespace %s: %w", ns.Name, err)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("the specs left %d namespaces of the run, removed at the end: %s", len(left), strings.Join(left, ", "))
	}
	return nil
}
