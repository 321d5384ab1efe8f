package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
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
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// Options chooses what to measure.
type Options struct {
	// Systems are the systems under test the scale steps measure, one after the other on the
	// same lane (sut.Names); the page's scenarios run on the first.
	Systems []string
	Scale   []int // concurrent backups per scale step
	// NoScenarios leaves out the page's scenarios (the smoke run).
	NoScenarios bool
	Artifacts   string
	Profile     *profile.Profile
	Log         logr.Logger
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
	if len(o.Systems) == 0 {
		o.Systems = []string{"reference"}
	}
	l, err := local.Up(ctx, local.Options{Name: "bench", Profile: o.Profile, ArtifactsDir: o.Artifacts, AuditLog: true, Log: o.Log})
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
	versions := maps.Clone(l.Versions())
	var out []Batch
	for _, system := range o.Systems {
		for _, n := range o.Scale {
			b, err := r.batch(ctx, system, fmt.Sprintf("scale N=%d", n), "bench-scale", n, 1, untilPrepared)
			out = append(out, b)
			if err != nil {
				return out, versions, err
			}
		}
	}
	if !o.NoScenarios {
		for _, gib := range []int{1, 10} {
			for _, alias := range []string{"bench-slow-rox", "bench-slow-rwo"} {
				b, err := r.batch(ctx, o.Systems[0], fmt.Sprintf("%s %dGiB", alias, gib), alias, 1, gib, untilPrepared)
				out = append(out, b)
				if err != nil {
					return out, versions, err
				}
			}
		}
		for _, alias := range []string{"bench-cap-src", "bench-cap-bkp"} {
			b, err := r.batch(ctx, o.Systems[0], alias+" 10x1GiB", alias, 10, 1, untilEnded)
			out = append(out, b)
			if err != nil {
				return out, versions, err
			}
		}
	}
	return out, versions, nil
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

// start starts a fresh instance of the system for one batch (so that its processes' peak RSS is
// the batch's), with its defaults but a prepare timeout no batch reaches.
func (r *runner) start(ctx context.Context, system, tag string) (sut.SUT, error) {
	s, err := sut.New(sut.Config{SUT: system, Lane: "local", Kubeconfig: r.l.Kubeconfig(), Namespace: r.veleroNS,
		NodeAgentConfigMap: "node-agent-config", PrepareTimeout: 10 * time.Minute,
		WorkDir: filepath.Join(r.binDir, system+"-"+tag), LogDir: filepath.Join(r.o.Artifacts, system+"-"+tag)})
	if err != nil {
		return nil, err
	}
	return s, s.Start(ctx)
}

// batch backs up n PVCs of the alias class at once, each of size GiB, with a fresh instance of
// the system, and measures until every DataUpload is Prepared or has ended.
// batchEnd says when a batch's measurement is over.
type batchEnd bool

const (
	// untilPrepared: every DataUpload Prepared (or ended): the data path after it, simulated on
	// this lane, is not what is measured.
	untilPrepared batchEnd = false
	// untilEnded: every Backup ended, the capacity sampled all along (the capacity scenarios).
	untilEnded batchEnd = true
)

func (r *runner) batch(ctx context.Context, system, name, alias string, n, gib int, end batchEnd) (b Batch, err error) {
	b = Batch{Name: name, System: system, Backups: n, SizeGiB: gib}
	r.seq++
	tag := fmt.Sprintf("b%02d", r.seq)
	s, err := r.start(ctx, system, tag)
	if err != nil {
		return b, err
	}
	// The system lets go of the batch's DataUploads (cancelling those past Prepared) before it
	// stops, so that the next instance finds none to carry on.
	defer func() {
		err = errors.Join(err, sut.StopDraining(context.Background(), r.c, r.veleroNS, s, max(2*time.Minute, time.Duration(n)*2*time.Second)))
	}()

	namespaces, err := r.sources(ctx, name, alias, tag, n, gib)
	if err != nil {
		return b, err
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	clock, err := watchStages(watchCtx, r.l.RESTConfig(), r.veleroNS)
	if err != nil {
		return b, err
	}
	if err := r.backupVolumesGone(ctx); err != nil {
		return b, err
	}
	atStart, err := r.usage(ctx)
	if err != nil {
		return b, fmt.Errorf("bench %s: the emulator's capacity: %w", name, err)
	}
	existing := volumeIDs(atStart)
	var peak int64
	var sampled sync.WaitGroup
	sampled.Go(func() {
		_ = wait.PollUntilContextCancel(watchCtx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			if u, err := r.usage(ctx); err == nil {
				peak = max(peak, bytesOfNewVolumes(u, existing))
			}
			return false, nil
		})
	})
	mark, err := markAudit(r.l.AuditLogPath())
	if err != nil {
		return b, err
	}
	procDirs := []string{r.l.Dir(), filepath.Join(r.binDir, system+"-"+tag)}
	before := sampleProcesses(procDirs...)

	start := time.Now()
	ours := map[string]bool{}
	for _, ns := range namespaces {
		backup := "bk-" + ns
		ours[backup] = true
		if err := r.c.Create(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: r.veleroNS, Name: backup},
			Spec: velerov1.BackupSpec{IncludedNamespaces: []string{ns}, SnapshotMoveData: ptr.To(true), CSISnapshotTimeout: metav1.Duration{Duration: 5 * time.Minute}}}); err != nil {
			return b, err
		}
	}
	r.o.Log.Info("batch started", "system", system, "name", name, "backups", n)
	phases := map[velerov1.BackupPhase]int{}
	// Until every Backup's DataUpload is Prepared, or ended, or the Backup ended without one (or,
	// untilEnded, every Backup ended).
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &velerov1.BackupList{}
		if r.c.List(ctx, list, client.InNamespace(r.veleroNS)) != nil {
			return false, nil
		}
		clear(phases)
		settled, done := clock.settled(ours), 0
		for _, bk := range list.Items {
			if !ours[bk.Name] {
				continue
			}
			phases[bk.Status.Phase]++
			switch bk.Status.Phase {
			case velerov1.BackupPhaseCompleted, velerov1.BackupPhasePartiallyFailed, velerov1.BackupPhaseFailed, velerov1.BackupPhaseFailedValidation:
				done++
			default:
				if settled[bk.Name] && end == untilPrepared {
					done++
				}
			}
		}
		return done == n, nil
	})
	after := sampleProcesses(procDirs...)
	endMark, merr := markAudit(r.l.AuditLogPath())
	stopWatching()
	sampled.Wait()
	b.DataUploads = clock.of(ours, start)
	b.summarize(n)
	if err != nil {
		return b, fmt.Errorf("bench %s %s: the DataUploads were not all Prepared or ended within 15 minutes (Backups %v, %d DataUploads seen): %w", system, name, phases, len(b.DataUploads), err)
	}
	if merr != nil {
		return b, merr
	}
	if b.NotPrepared > 0 {
		return b, fmt.Errorf("bench %s %s: %d of %d DataUploads were never Prepared (Backups %v): every batch's backups must be, or its numbers mean nothing", system, name, b.NotPrepared, n, phases)
	}
	b.Usage = usageBetween(before, after)
	b.PeakCapacityGiB = float64(peak) / (1 << 30)
	if b.Requests, err = countRequests(r.l.AuditLogPath(), mark, endMark); err != nil {
		return b, err
	}
	if b.SystemRequests() == 0 {
		return b, fmt.Errorf("bench %s %s: the audit log holds no request of the system's user agents (%s) during the batch", system, name, strings.Join(agentsOf(system), ", "))
	}
	for _, ns := range namespaces {
		_ = r.c.Delete(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: r.veleroNS, Name: "bk-" + ns}})
		_ = r.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	r.o.Log.Info("batch measured", "system", system, "name", name, "wall", b.Wall.String(), "p50", b.Percentile(50).String(),
		"p99", b.Percentile(99).String(), "notPrepared", b.NotPrepared, "requestsPerDU", b.RequestsPerDU())
	return b, nil
}

// summarize derives the latencies, wall, creation spread and count of the unprepared from the
// DataUploads' times; n Backups each make one DataUpload.
func (b *Batch) summarize(n int) {
	b.Latencies, b.EndToEnd = nil, nil
	prepared := 0
	for _, d := range b.DataUploads {
		b.CreationSpread = max(b.CreationSpread, d.At[StageCreated])
		if d.reached(StagePrepared) {
			prepared++
			b.Wall = max(b.Wall, d.At[StagePrepared])
			if d.reached(StageAccepted) {
				b.Latencies = append(b.Latencies, d.At[StagePrepared]-d.At[StageAccepted])
			}
			if d.reached(StageCreated) {
				b.EndToEnd = append(b.EndToEnd, d.At[StagePrepared]-d.At[StageCreated])
			}
		}
	}
	b.NotPrepared = n - prepared
}

// backupVolumesGone waits until no PersistentVolume of a backupPVC (a claim in the Velero
// namespace) is left from an earlier batch (the provisioner deletes them a moment after their
// claims go), so that one batch's volumes neither load the next nor count in its capacity baseline.
func (r *runner) backupVolumesGone(ctx context.Context) error {
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pvs := &corev1.PersistentVolumeList{}
		if err := r.c.List(ctx, pvs); err != nil {
			return false, nil
		}
		left = left[:0]
		for _, pv := range pvs.Items {
			if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Namespace == r.veleroNS {
				left = append(left, fmt.Sprintf("%s (%s)", pv.Name, pv.Status.Phase))
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("bench: the earlier batches' backup volumes were not all deleted within 2 minutes: %s", strings.Join(left, ", "))
	}
	return nil
}

// sources makes n namespaces with a bound PVC of the alias class each.
func (r *runner) sources(ctx context.Context, name, alias, tag string, n, gib int) ([]string, error) {
	var namespaces []string
	for i := range n {
		ns := fmt.Sprintf("%s-%s-%d", alias, tag, i)
		namespaces = append(namespaces, ns)
		if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
		if err := r.c.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(alias), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(strconv.Itoa(gib) + "Gi")}}}}); err != nil {
			return nil, err
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
		return nil, fmt.Errorf("bench %s: source PVCs not bound: %w", name, err)
	}
	return namespaces, nil
}

// usage asks the emulator's status page for the capacity in use, volume by volume.
func (r *runner) usage(ctx context.Context) (emulator.Usage, error) {
	sock := r.l.DriverStatusSocket(r.o.Profile.Driver)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 2 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://emulator/", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return emulator.Usage{}, err
	}
	defer resp.Body.Close()
	var u emulator.Usage
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		return emulator.Usage{}, err
	}
	return u, nil
}

// volumeIDs is the set of the volumes u counts.
func volumeIDs(u emulator.Usage) map[string]bool {
	ids := map[string]bool{}
	for _, v := range u.Volumes {
		ids[v.ID] = true
	}
	return ids
}

// bytesOfNewVolumes is the capacity the volumes made since existing was read use: the batch's
// backupPVCs. Counting it as the total minus the total at the start counted the earlier batch's
// source volumes, still being deleted when the batch started, against the batch: the backup-class
// capacity row read 0.0 or 1.0 GiB instead of 10.
func bytesOfNewVolumes(u emulator.Usage, existing map[string]bool) int64 {
	var n int64
	for _, v := range u.Volumes {
		if !existing[v.ID] {
			n += v.UsedBytes
		}
	}
	return n
}
