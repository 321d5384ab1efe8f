package sut

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/internal/kindscript"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// VeleroKind is the real Velero installed into a kind cluster the way velero install installs it:
// its images (hack/kind/images.sh --velero) loaded into the node, the objects of `velero install`
// (its own output, --dry-run -o json) created in the run's Velero namespace, and versitygw as the
// object store inside the cluster behind a Service, so that the server, the node-agent and every
// backupPod (kopia runs there) reach the same S3 URL. Its backupPods run Velero's own data mover.
type VeleroKind struct {
	veleroCommon // its velero binary runs velero install, and TryConfigMap's node-agent
	images       veleroImages
	created      []client.Object
	// patch, when set, changes each object before it is created (the fault tests break one).
	patch func(client.Object)
}

var _ SUT = (*VeleroKind)(nil)

// veleroImages are the tags hack/kind/images.sh --velero prints.
type veleroImages struct {
	Velero, Plugin, S3 string
}

func newVeleroKind(cfg Config, v map[string]string) (*VeleroKind, error) {
	common, err := newVeleroCommon(cfg, v, "built from the Go module proxy, installed by its velero install")
	if err != nil {
		return nil, err
	}
	return &VeleroKind{veleroCommon: common}, nil
}

// Description says what runs.
func (v *VeleroKind) Description() string {
	return fmt.Sprintf("Velero %s in the cluster as velero install puts it (server Deployment with velero-plugin-for-aws, node-agent DaemonSet, Velero's data mover in the backupPods, versitygw as the object store behind a Service)",
		v.versions["velero"])
}

// Properties: Velero checks the prepare timeout once a minute; its own data mover runs in
// backupPods that the kubelet really runs, and what it uploads a Restore brings back.
func (v *VeleroKind) Properties() Properties {
	return Properties{TimeoutCheckInterval: veleroCheckInterval, DataMover: VeleroDataMover, DataPath: true, Restores: true, QueuedDataPaths: true}
}

// Start builds (or finds) the images, loads them into the kind node, starts the object store,
// installs Velero and waits until the BackupStorageLocation is Available, the server is ready and
// every node-agent has started its controllers. A pod that crashes or cannot start its image
// ends the wait at once, with the end of its log.
func (v *VeleroKind) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("sut velero: %w", err), v.Stop(context.Background()))
		}
	}()
	if v.cfg.KindCluster == "" {
		return errors.New("no kind cluster named in the configuration to load the images into")
	}
	for _, d := range []string{v.cfg.LogDir, v.cfg.WorkDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if v.images, err = buildVeleroImages(ctx, filepath.Join(v.cfg.LogDir, "images.log")); err != nil {
		return err
	}
	if err := loadImages(ctx, v.cfg.KindCluster, v.images.Velero, v.images.Plugin, v.images.S3); err != nil {
		return err
	}
	c, pods, err := v.connect()
	if err != nil {
		return err
	}
	access, secret := randomHex(8), randomHex(16)
	svc, err := v.createAll(ctx, c, objectStore(v.cfg.Namespace, v.images.S3, access, secret))
	if err != nil {
		return err
	}
	// Velero validates a BackupStorageLocation when it starts, then once a minute: the store answers
	// first.
	store := &appsv1.Deployment{}
	if err := pods.waitUntil(ctx, time.Minute, "the object store to be ready", func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKey{Namespace: v.cfg.Namespace, Name: objectStoreName}, store) == nil && store.Status.ReadyReplicas == 1, nil
	}, func() string { return "; versitygw's log ends:\n" + pods.tail(ctx, objectStoreSelector, 10) }); err != nil {
		return err
	}
	s3URL := fmt.Sprintf("http://%s:%d", svc.(*corev1.Service).Spec.ClusterIP, s3Port)
	objs, err := veleroInstall(ctx, v.velero, v.cfg, v.images, s3URL, filepath.Join(v.cfg.WorkDir, "cloud-credentials"), awsCredentials(access, secret))
	if err != nil {
		return err
	}
	if _, err := v.createAll(ctx, c, objs); err != nil {
		return err
	}
	bsl := &velerov1.BackupStorageLocation{}
	// The store answers, so Unavailable is Velero's verdict on it, kept for a minute: fail at once.
	if err := pods.waitUntil(ctx, 2*time.Minute, "BackupStorageLocation "+defaultBSL+" to be Available", func(ctx context.Context) (bool, error) {
		if c.Get(ctx, client.ObjectKey{Namespace: v.cfg.Namespace, Name: defaultBSL}, bsl) != nil {
			return false, nil
		}
		if bsl.Status.Phase == velerov1.BackupStorageLocationPhaseUnavailable {
			return false, fmt.Errorf("BackupStorageLocation %s is Unavailable: %s; the server's log ends:\n%s", defaultBSL, bsl.Status.Message, pods.tail(ctx, serverSelector, 10))
		}
		return bsl.Status.Phase == velerov1.BackupStorageLocationPhaseAvailable, nil
	}, func() string {
		return fmt.Sprintf(" (phase %q, %q); the server's log ends:\n%s\nversitygw's log ends:\n%s", bsl.Status.Phase, bsl.Status.Message,
			pods.tail(ctx, serverSelector, 15), pods.tail(ctx, objectStoreSelector, 10))
	}); err != nil {
		return err
	}
	ds := &appsv1.DaemonSet{}
	return pods.waitUntil(ctx, time.Minute, "every node-agent to start its controllers", func(ctx context.Context) (bool, error) {
		if c.Get(ctx, client.ObjectKey{Namespace: v.cfg.Namespace, Name: nodeAgentDaemonSet}, ds) != nil ||
			ds.Status.DesiredNumberScheduled == 0 || ds.Status.NumberReady != ds.Status.DesiredNumberScheduled {
			return false, nil
		}
		return pods.allLogged(ctx, nodeAgentSelector, "Controllers starting...")
	}, func() string {
		return fmt.Sprintf(" (%d of %d node-agent pods ready); a node-agent's log ends:\n%s", ds.Status.NumberReady,
			ds.Status.DesiredNumberScheduled, pods.tail(ctx, nodeAgentSelector, 15))
	})
}

// createAll creates objs in order, recording each for Stop; it returns the last one as the API
// server returned it (the object store's Service, with its cluster IP).
func (v *VeleroKind) createAll(ctx context.Context, c client.Client, objs []client.Object) (client.Object, error) {
	var last client.Object
	for _, o := range objs {
		if v.patch != nil {
			v.patch(o)
		}
		if err := c.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
		v.created = append(v.created, o)
		last = o
	}
	return last, nil
}

// connect gives a client of the cluster and a podWatch of the Velero namespace.
func (v *VeleroKind) connect() (client.Client, podWatch, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", v.cfg.Kubeconfig)
	if err != nil {
		return nil, podWatch{}, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, podWatch{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	return c, podWatch{c: c, cs: cs, ns: v.cfg.Namespace}, err
}

// Running reports Velero's pods (and the object store's) whose containers restarted or stopped.
func (v *VeleroKind) Running() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, pods, err := v.connect()
	if err != nil {
		return fmt.Errorf("sut velero: %w", err)
	}
	var errs []error
	for _, sel := range veleroPodSelectors {
		if err := pods.crashed(ctx, sel, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// veleroPodSelectors select the long-running pods of an install: the server, the node-agents, the
// object store (Velero's backupPods and maintenance jobs come and go).
var veleroPodSelectors = []string{serverSelector, nodeAgentSelector, objectStoreSelector}

const (
	serverSelector      = "deploy=velero"
	nodeAgentSelector   = "name=" + nodeAgentDaemonSet
	objectStoreSelector = "app.kubernetes.io/name=" + objectStoreName
)

// LogFiles writes the current logs of the server, the node-agents and the object store into the
// log folder and returns them.
func (v *VeleroKind) LogFiles() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, pods, err := v.connect()
	if err != nil {
		return nil
	}
	files, _ := pods.saveLogs(ctx, v.cfg.LogDir, veleroPodSelectors...)
	return files
}

// Stop saves Velero's logs, then deletes what Start created, last first, and its work folder.
func (v *VeleroKind) Stop(ctx context.Context) error {
	var errs []error
	if len(v.created) > 0 {
		c, pods, err := v.connect()
		if err != nil {
			errs = append(errs, err)
		} else {
			if _, err := pods.saveLogs(ctx, v.cfg.LogDir, veleroPodSelectors...); err != nil {
				errs = append(errs, err)
			}
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

// buildVeleroImages runs hack/kind/images.sh --velero (which rebuilds nothing cached) and reads
// the tags it prints; its progress goes to logPath.
func buildVeleroImages(ctx context.Context, logPath string) (veleroImages, error) {
	out, err := kindscript.Run(ctx, logPath, nil, "images.sh", "--velero")
	if err != nil {
		return veleroImages{}, err
	}
	v := kindscript.Vars(out)
	im := veleroImages{Velero: v["VELERO_IMAGE"], Plugin: v["VELERO_PLUGIN_IMAGE"], S3: v["VERSITYGW_IMAGE"]}
	if im.Velero == "" || im.Plugin == "" || im.S3 == "" {
		return im, fmt.Errorf("hack/kind/images.sh --velero printed no tags (%q)", out)
	}
	return im, nil
}

// loadImages loads images into the kind cluster's node (kind load: nothing is pulled).
func loadImages(ctx context.Context, cluster string, images ...string) error {
	kind, err := toolchain.Binary("kind", "kind")
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, kind, append([]string{"load", "docker-image", "--name", cluster}, images...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kind load docker-image %s: %v: %s", strings.Join(images, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pollStep is how often Start looks at the cluster.
const pollStep = time.Second

// waitUntil polls cond until it holds, and fails at once when one of Velero's pods crashed or
// cannot start, or cond fails; on timeout the error says what it waited for, then onTimeout().
func (p podWatch) waitUntil(ctx context.Context, timeout time.Duration, what string, cond wait.ConditionWithContextFunc, onTimeout func() string) error {
	err := wait.PollUntilContextTimeout(ctx, pollStep, timeout, true, func(ctx context.Context) (bool, error) {
		for _, sel := range veleroPodSelectors {
			if err := p.crashed(ctx, sel, false); err != nil {
				return false, err
			}
		}
		return cond(ctx)
	})
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err)) {
		return fmt.Errorf("waited %v for %s%s", timeout, what, onTimeout())
	}
	return err
}
