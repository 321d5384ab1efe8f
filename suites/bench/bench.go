package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/emulator"
	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/reference/controller"
	"github.com/backuppvc-conformance/harness/reference/server"
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// Options chooses what to measure.
type Options struct {
	Scale     []int // concurrent backups per scale step
	Artifacts string
	Profile   *profile.Profile
	Log       logr.Logger
}

// Batch is one measured group of backups started at once.
type Batch struct {
	Name            string           `json:"name"`
	Backups         int              `json:"backups"`
	SizeGiB         int              `json:"sizeGiB"`
	Latencies       []time.Duration  `json:"acceptedToPrepared"`
	Wall            time.Duration    `json:"wall"`
	RequestsPerDU   float64          `json:"requestsPerDataUpload"`
	Requests        map[string]int64 `json:"requests"`
	PeakRSSBytes    int64            `json:"peakRSSBytes"`
	PeakCapacityGiB float64          `json:"peakBackupCapacityGiB"`
	Failed          int              `json:"failed"`
}

// Percentile returns the p-th percentile (nearest rank) of the batch's latencies.
func (b Batch) Percentile(p float64) time.Duration { return Percentile(b.Latencies, p) }

// Percentile returns the p-th percentile (nearest rank) of ds, 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

type runner struct {
	o        Options
	l        *local.Lane
	c        client.Client
	veleroNS string
	binDir   string
	seq      int
}

// aliases are the source classes of the bench scenarios and their backupPVC entries.
func aliases(p *profile.Profile) map[string]string {
	backup, _ := p.Class(profile.RoleBackup)
	slow, _ := p.Class(profile.RoleSlowClone)
	return map[string]string{
		"bench-scale":    fmt.Sprintf(`{"storageClass": %q, "readOnly": true}`, backup.Name),
		"bench-slow-rox": fmt.Sprintf(`{"storageClass": %q, "readOnly": true}`, slow.Name),
		"bench-slow-rwo": fmt.Sprintf(`{"storageClass": %q}`, slow.Name),
		"bench-cap-src":  "", // no entry: the backupPVC on the replicas-3 source class
		"bench-cap-bkp":  fmt.Sprintf(`{"storageClass": %q}`, backup.Name),
	}
}

// Run brings the local lane up, measures, and takes it down.
func Run(ctx context.Context, o Options) ([]Batch, map[string]string, error) {
	l, err := local.Up(ctx, local.Options{Name: "bench", Profile: o.Profile, ArtifactsDir: o.Artifacts, Log: o.Log})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = l.Down(context.Background()) }()
	c, err := client.New(l.RESTConfig(), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		return nil, nil, err
	}
	r := &runner{o: o, l: l, c: c, veleroNS: "bench-velero", binDir: filepath.Join(o.Artifacts, "bin")}
	if err := r.setUp(ctx); err != nil {
		return nil, nil, err
	}
	var out []Batch
	for _, n := range o.Scale {
		b, err := r.batch(ctx, fmt.Sprintf("scale N=%d", n), "bench-scale", n, 1)
		if err != nil {
			return out, l.Versions(), err
		}
		out = append(out, b)
	}
	for _, gib := range []int{1, 10} {
		for _, alias := range []string{"bench-slow-rox", "bench-slow-rwo"} {
			b, err := r.batch(ctx, fmt.Sprintf("%s %dGiB", alias, gib), alias, 1, gib)
			if err != nil {
				return out, l.Versions(), err
			}
			out = append(out, b)
		}
	}
	for _, alias := range []string{"bench-cap-src", "bench-cap-bkp"} {
		b, err := r.batch(ctx, alias+" 10x1GiB", alias, 10, 1)
		if err != nil {
			return out, l.Versions(), err
		}
		out = append(out, b)
	}
	return out, l.Versions(), nil
}

func (r *runner) setUp(ctx context.Context) error {
	if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.veleroNS}}); err != nil {
		return err
	}
	src, _ := r.o.Profile.Class(profile.RoleSource)
	var entries []string
	for alias, entry := range aliases(r.o.Profile) {
		if err := r.c.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: alias, Labels: map[string]string{lane.ManagedByLabel: lane.ManagedByValue}},
			Provisioner: src.Provisioner, Parameters: src.Parameters}); err != nil {
			return err
		}
		if entry != "" {
			entries = append(entries, fmt.Sprintf("%q: %s", alias, entry))
		}
	}
	return r.c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: r.veleroNS, Name: "node-agent-config"},
		Data: map[string]string{"config.json": `{"backupPVC": {` + strings.Join(entries, ", ") + `}}`}})
}

// batch backs up n PVCs of the alias class at once, each of size GiB, with a fresh reference
// process (so its peak RSS is this batch's).
func (r *runner) batch(ctx context.Context, name, alias string, n, gib int) (Batch, error) {
	b := Batch{Name: name, Backups: n, SizeGiB: gib}
	r.seq++
	tag := fmt.Sprintf("b%02d", r.seq)
	stats := filepath.Join(r.o.Artifacts, "requests-"+tag+".json")
	ref := sut.NewReference(sut.Config{Kubeconfig: r.l.Kubeconfig(), Namespace: r.veleroNS, NodeAgentConfigMap: "node-agent-config",
		PrepareTimeout: 10 * time.Minute, WorkDir: filepath.Join(r.binDir, tag), LogDir: filepath.Join(r.o.Artifacts, "reference-"+tag)},
		"--request-stats-file", stats, "--workers", "20")
	if err := ref.Start(ctx); err != nil {
		return b, err
	}
	defer func() { _ = ref.Stop(context.Background()) }()

	var namespaces []string
	for i := range n {
		ns := fmt.Sprintf("%s-%s-%d", alias, tag, i)
		namespaces = append(namespaces, ns)
		if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return b, err
		}
		if err := r.c.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(alias), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(strconv.Itoa(gib) + "Gi")}}}}); err != nil {
			return b, err
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, ns := range namespaces {
			pvc := &corev1.PersistentVolumeClaim{}
			if r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, pvc) != nil || pvc.Status.Phase != corev1.ClaimBound {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return b, fmt.Errorf("bench %s: source PVCs not bound: %w", name, err)
	}
	time.Sleep(time.Second) // a settled request count and capacity before the batch
	before, err := readStats(stats)
	if err != nil {
		return b, err
	}
	baseline, _ := r.usedBytes(ctx)

	sampleCtx, stopSampling := context.WithCancel(ctx)
	var peak int64
	var sampled sync.WaitGroup
	sampled.Go(func() {
		_ = wait.PollUntilContextCancel(sampleCtx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			if u, err := r.usedBytes(ctx); err == nil {
				peak = max(peak, u-baseline)
			}
			return false, nil
		})
	})
	start := time.Now()
	backups := make([]string, n)
	ours := map[string]bool{}
	for i, ns := range namespaces {
		backups[i] = "bk-" + ns
		ours[backups[i]] = true
		if err := r.c.Create(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: r.veleroNS, Name: backups[i]},
			Spec: velerov1.BackupSpec{IncludedNamespaces: []string{ns}, SnapshotMoveData: ptr.To(true), CSISnapshotTimeout: metav1.Duration{Duration: 5 * time.Minute}}}); err != nil {
			stopSampling()
			return b, err
		}
	}
	accepted, prepared := map[string]time.Time{}, map[string]time.Time{}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &velerov2alpha1.DataUploadList{}
		if r.c.List(ctx, list, client.InNamespace(r.veleroNS)) != nil {
			return false, nil
		}
		now, final := time.Now(), 0
		for _, du := range list.Items {
			if !ours[du.Labels[velerov1.BackupNameLabel]] {
				continue
			}
			switch du.Status.Phase {
			case "", velerov2alpha1.DataUploadPhaseNew:
			case velerov2alpha1.DataUploadPhaseAccepted:
				if _, ok := accepted[du.Name]; !ok {
					accepted[du.Name] = now
				}
			default:
				if _, ok := accepted[du.Name]; !ok {
					accepted[du.Name] = now
				}
				if _, ok := prepared[du.Name]; !ok {
					prepared[du.Name] = now
				}
			}
			switch du.Status.Phase {
			case velerov2alpha1.DataUploadPhaseCompleted:
				final++
			case velerov2alpha1.DataUploadPhaseFailed, velerov2alpha1.DataUploadPhaseCanceled:
				final++
				b.Failed++
			}
		}
		return final == n, nil
	})
	b.Wall = time.Since(start)
	stopSampling()
	sampled.Wait()
	if err != nil {
		return b, fmt.Errorf("bench %s: DataUploads did not all end: %w", name, err)
	}
	for du, p := range prepared {
		b.Latencies = append(b.Latencies, p.Sub(accepted[du]))
	}
	time.Sleep(time.Second) // the last counts reach the stats file
	after, err := readStats(stats)
	if err != nil {
		return b, err
	}
	b.Requests = map[string]int64{}
	for k, v := range after.ByResource {
		if d := v - before.ByResource[k]; d > 0 {
			b.Requests[k] = d
		}
	}
	b.RequestsPerDU = float64(after.Total-before.Total) / float64(n)
	b.PeakRSSBytes = peakRSS(ref.PID())
	b.PeakCapacityGiB = float64(peak) / (1 << 30)
	for i, ns := range namespaces {
		_ = r.c.Delete(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: r.veleroNS, Name: backups[i]}})
		_ = r.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	r.o.Log.Info("batch measured", "name", name, "wall", b.Wall.String(), "p50", b.Percentile(50).String(), "failed", b.Failed)
	return b, nil
}

func readStats(path string) (server.RequestStats, error) {
	var s server.RequestStats
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("bench: request stats: %w", err)
	}
	return s, json.Unmarshal(data, &s)
}

// usedBytes asks the emulator's status page for the capacity in use.
func (r *runner) usedBytes(ctx context.Context) (int64, error) {
	sock := r.l.DriverStatusSocket(r.o.Profile.Driver)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 2 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://emulator/", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var u emulator.Usage
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		return 0, err
	}
	return u.UsedBytes, nil
}

// peakRSS is the process's resident high-water mark (VmHWM), in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
