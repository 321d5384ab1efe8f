// Command sidebyside exposes the same snapshots with Velero v1.18.3's own CSI snapshot exposer
// (github.com/vmware-tanzu/velero/pkg/exposer) and with the reference's, on the same local lane,
// and reports expose latency (Expose call to backupPod Running) and the API requests each makes
// per DataUpload. It is its own Go module because Velero's exposer needs Velero's kopia replace
// and a large dependency tree the harness does not.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/sirupsen/logrus"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	vexposer "github.com/vmware-tanzu/velero/pkg/exposer"
	velerotypes "github.com/vmware-tanzu/velero/pkg/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/reference/controller"
	"github.com/backuppvc-conformance/harness/reference/exposer"
	"github.com/backuppvc-conformance/harness/suites/bench"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

const veleroNS = "sbs-velero"

type counter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// counted returns a copy of cfg whose requests c counts.
func counted(cfg *rest.Config, c *counter) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { c.next = rt; return c })
	return cfg
}

// Result is one exposer's numbers.
type Result struct {
	Exposer              string          `json:"exposer"`
	N                    int             `json:"n"`
	Latencies            []time.Duration `json:"exposeToRunning"`
	ExposeRequestsPerDU  float64         `json:"exposeRequestsPerDataUpload"`
	CleanUpRequestsPerDU float64         `json:"cleanUpRequestsPerDataUpload"`
}

// exposeFunc exposes one snapshot for owner with the given source; cleanUp undoes it.
type exposeFunc func(ctx context.Context, owner corev1.ObjectReference, vs, ns, pvc, pv string) error
type cleanUpFunc func(ctx context.Context, owner corev1.ObjectReference, vs, ns string)

func main() {
	nList := flag.String("n", "10", "DataUploads exposed at once per exposer, one step per number (e.g. 10,50,200)")
	artifacts := flag.String("artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts", "bench"), "where results go")
	flag.Parse()
	var ns []int
	for _, f := range strings.Split(*nList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || flag.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "sidebyside: -n takes positive numbers separated by commas (got %q) and no arguments\n", *nList)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	if err := run(ns, *artifacts); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

func run(ns []int, artifacts string) error {
	ctx := context.Background()
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		return err
	}
	versions, err := toolchain.Versions()
	if err != nil {
		return err
	}
	// The node-agent image, which Velero's exposer gives the backupPods, of the Velero we pin.
	image := "velero/velero:" + versions["VELERO_VERSION"]
	l, err := local.Up(ctx, local.Options{Name: "sidebyside", Profile: p, ArtifactsDir: artifacts})
	if err != nil {
		return err
	}
	defer func() { _ = l.Down(context.Background()) }()
	c, err := client.New(l.RESTConfig(), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: veleroNS}}); err != nil {
		return err
	}
	// Velero's exposer copies image, service account and env from the node-agent DaemonSet.
	if err := c.Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "node-agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "node-agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"name": "node-agent"}},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"backuppvc.io/no-such-node": "true"},
					Containers: []corev1.Container{{Name: "node-agent", Image: image}}}}}}); err != nil {
		return err
	}
	src, _ := p.Class(profile.RoleSource)
	backup, _ := p.Class(profile.RoleBackup)
	cfg := map[string]velerotypes.BackupPVC{src.Name: {StorageClass: backup.Name, ReadOnly: true}}

	var results []Result
	for _, n := range ns {
		for _, name := range []string{"velero", "reference"} {
			r, err := measureExposer(ctx, l.RESTConfig(), c, name, n, image, src.Name, p.SnapshotClass.Name, cfg)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	data, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(artifacts, "sidebyside.json"), data, 0o644); err != nil {
		return err
	}
	fmt.Printf("\n### Velero v1.18.3's exposer as a library and the reference's, same lane, N snapshots exposed at once each (%d cores, one run per row)\n\n", runtime.NumCPU())
	fmt.Println("| exposer | N | expose → backupPod Running p50 | p95 | p99 | API requests per DataUpload: expose | cleanup |\n|---|---|---|---|---|---|---|")
	for i := 0; i+1 < len(results); i += 2 {
		v, ref := results[i], results[i+1]
		for _, r := range []Result{v, ref} {
			fmt.Printf("| %s | %d | %v | %v | %v | %.1f | %.1f |\n", r.Exposer, r.N, bench.Percentile(r.Latencies, 50).Round(time.Millisecond), bench.Percentile(r.Latencies, 95).Round(time.Millisecond),
				bench.Percentile(r.Latencies, 99).Round(time.Millisecond), r.ExposeRequestsPerDU, r.CleanUpRequestsPerDU)
		}
		fmt.Printf("| ratio reference/Velero | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", v.N, ratio(bench.Percentile(ref.Latencies, 50), bench.Percentile(v.Latencies, 50)),
			ratio(bench.Percentile(ref.Latencies, 95), bench.Percentile(v.Latencies, 95)), ratio(bench.Percentile(ref.Latencies, 99), bench.Percentile(v.Latencies, 99)),
			ref.ExposeRequestsPerDU/v.ExposeRequestsPerDU, ref.CleanUpRequestsPerDU/v.CleanUpRequestsPerDU)
	}
	return nil
}

// measureExposer measures one exposer (velero or reference) at n at once.
func measureExposer(ctx context.Context, cfg *rest.Config, c client.Client, name string, n int, image, srcClass, snapClass string, bpvc map[string]velerotypes.BackupPVC) (Result, error) {
	var expReq, cleanReq counter
	expCfg := counted(cfg, &expReq)
	var expose exposeFunc
	var cleanUp cleanUpFunc
	switch name {
	case "velero":
		kc := kubernetes.NewForConfigOrDie(expCfg)
		sc := snapclient.NewForConfigOrDie(expCfg)
		quiet := logrus.New()
		quiet.SetOutput(io.Discard)
		ve := vexposer.NewCSISnapshotExposer(kc, sc.SnapshotV1(), quiet)
		expose = func(ctx context.Context, owner corev1.ObjectReference, vs, ns, pvc, pv string) error {
			return ve.Expose(ctx, owner, &vexposer.CSISnapshotExposeParam{SnapshotName: vs, SourceNamespace: ns, SourcePVCName: pvc,
				SourcePVName: pv, AccessMode: vexposer.AccessModeFileSystem, StorageClass: srcClass,
				HostingPodLabels: map[string]string{"velero.io/data-upload": owner.Name}, OperationTimeout: time.Minute,
				ExposeTimeout: 5 * time.Minute, VolumeSize: resource.MustParse("1Gi"), BackupPVCConfig: bpvc, NodeOS: "linux"})
		}
		cleanCfg := counted(cfg, &cleanReq)
		vc := vexposer.NewCSISnapshotExposer(kubernetes.NewForConfigOrDie(cleanCfg), snapclient.NewForConfigOrDie(cleanCfg).SnapshotV1(), quiet)
		cleanUp = func(ctx context.Context, owner corev1.ObjectReference, vs, ns string) { vc.CleanUp(ctx, owner, vs, ns) }
	default:
		ec, err := client.NewWithWatch(expCfg, client.Options{Scheme: controller.Scheme()})
		if err != nil {
			return Result{}, err
		}
		re := exposer.New(ec)
		expose = func(ctx context.Context, owner corev1.ObjectReference, vs, ns, pvc, pv string) error {
			return re.Expose(ctx, owner, exposer.Params{SnapshotName: vs, SourceNamespace: ns, SourcePVCName: pvc, SourcePVName: pv,
				StorageClass: srcClass, VolumeMode: corev1.PersistentVolumeFilesystem, VolumeSize: resource.MustParse("1Gi"),
				PodLabels: map[string]string{"velero.io/data-upload": owner.Name}, Image: image,
				OperationTimeout: time.Minute, ExposeTimeout: 5 * time.Minute, BackupPVCConfig: bpvc})
		}
		cc, err := client.NewWithWatch(counted(cfg, &cleanReq), client.Options{Scheme: controller.Scheme()})
		if err != nil {
			return Result{}, err
		}
		rc := exposer.New(cc)
		cleanUp = func(ctx context.Context, owner corev1.ObjectReference, vs, ns string) { rc.CleanUp(ctx, owner, vs, ns) }
	}
	r, err := measure(ctx, c, name, n, srcClass, snapClass, expose, cleanUp, &expReq, &cleanReq)
	if err != nil {
		return r, fmt.Errorf("%s exposer, N=%d: %w", name, n, err)
	}
	// Nothing measured is a failure, not an empty row: make bench and make bench-smoke rely on it.
	if len(r.Latencies) != n || r.ExposeRequestsPerDU == 0 {
		return r, fmt.Errorf("%s exposer, N=%d: measured %d of %d backupPods (%.1f expose requests per DataUpload)", name, n, len(r.Latencies), n, r.ExposeRequestsPerDU)
	}
	return r, nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// measure makes n source PVCs with ready snapshots and DataUploads (owners only: no controller
// runs), exposes all at once, waits for every backupPod to run, then cleans up.
func measure(ctx context.Context, c client.Client, name string, n int, class, snapClass string, expose exposeFunc, cleanUp cleanUpFunc, expReq, cleanReq *counter) (Result, error) {
	res := Result{Exposer: name, N: n}
	type item struct {
		ns, vs, pv string
		owner      corev1.ObjectReference
	}
	items := make([]item, n)
	for i := range items {
		it := &items[i]
		it.ns = fmt.Sprintf("sbs-%s-n%d-%d", name, n, i)
		it.vs = "snap"
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: it.ns}}); err != nil {
			return res, err
		}
		if err := c.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: it.ns, Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}); err != nil {
			return res, err
		}
		if err := c.Create(ctx, &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: it.ns, Name: it.vs},
			Spec: snapshotv1.VolumeSnapshotSpec{VolumeSnapshotClassName: ptr.To(snapClass), Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("data")}}}); err != nil {
			return res, err
		}
		du := &velerov2alpha1.DataUpload{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: fmt.Sprintf("%s-n%d-%d", name, n, i)},
			Spec: velerov2alpha1.DataUploadSpec{SnapshotType: velerov2alpha1.SnapshotTypeCSI, DataMover: "sidebyside-no-controller"}}
		if err := c.Create(ctx, du); err != nil {
			return res, err
		}
		it.owner = corev1.ObjectReference{APIVersion: "velero.io/v2alpha1", Kind: "DataUpload", Namespace: veleroNS, Name: du.Name, UID: du.UID}
	}
	for i := range items {
		it := &items[i]
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			pvc, vs := &corev1.PersistentVolumeClaim{}, &snapshotv1.VolumeSnapshot{}
			if c.Get(ctx, client.ObjectKey{Namespace: it.ns, Name: "data"}, pvc) != nil || c.Get(ctx, client.ObjectKey{Namespace: it.ns, Name: it.vs}, vs) != nil {
				return false, nil
			}
			it.pv = pvc.Spec.VolumeName
			return it.pv != "" && vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse, nil
		}); err != nil {
			return res, fmt.Errorf("source %s not ready: %w", it.ns, err)
		}
	}
	before := expReq.n.Load()
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range items {
		it := items[i]
		wg.Go(func() {
			start := time.Now()
			if err := expose(ctx, it.owner, it.vs, it.ns, "data", it.pv); err != nil {
				errs <- err
				return
			}
			err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
				pod := &corev1.Pod{}
				return c.Get(ctx, client.ObjectKey{Namespace: veleroNS, Name: it.owner.Name}, pod) == nil &&
					(pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded), nil
			})
			if err != nil {
				errs <- fmt.Errorf("backupPod %s never ran: %w", it.owner.Name, err)
				return
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	res.ExposeRequestsPerDU = float64(expReq.n.Load()-before) / float64(n)
	beforeClean := cleanReq.n.Load()
	// All at once, as the exposes: one after the other, Velero's (2 s polls for each deletion)
	// took minutes at N=200.
	for _, it := range items {
		wg.Go(func() { cleanUp(ctx, it.owner, it.vs, it.ns) })
	}
	wg.Wait()
	res.CleanUpRequestsPerDU = float64(cleanReq.n.Load()-beforeClean) / float64(n)
	for _, it := range items {
		_ = c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: it.ns}})
		_ = c.Delete(ctx, &velerov2alpha1.DataUpload{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: it.owner.Name}})
	}
	return res, nil
}
