package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

// Stage is a step of a DataUpload's way to Prepared, in the order it is taken.
type Stage int

const (
	// StageCreated: the DataUpload exists (the system's backup side made it).
	StageCreated Stage = iota
	// StageAccepted: a node-agent accepted it.
	StageAccepted
	// StageSnapshotReady: its backupVS, restored from the source's snapshot, is readyToUse.
	StageSnapshotReady
	// StageBound: its backupPVC is Bound (the provisioner made a volume from the snapshot).
	StageBound
	// StageRunning: its backupPod is Running.
	StageRunning
	// StagePrepared: the DataUpload is Prepared.
	StagePrepared
	numStages
)

// StageNames name the stages, in order.
var StageNames = [numStages]string{"created", "Accepted", "backupVS ready", "backupPVC Bound", "backupPod Running", "Prepared"}

// stageClock records when the watch first saw each DataUpload of the Velero namespace reach each
// stage, and how it ended: the backupVS, backupPVC and backupPod carry the DataUpload's name.
// Watch times, not the objects' timestamps, which count whole seconds.
type stageClock struct {
	mu     sync.Mutex
	seen   map[string]*[numStages]time.Time
	backup map[string]string // DataUpload -> its Backup
	phase  map[string]velerov2alpha1.DataUploadPhase
}

// watchStages starts the watches on namespace ns and waits for them to sync; they stop with ctx.
func watchStages(ctx context.Context, cfg *rest.Config, ns string) (*stageClock, error) {
	c := &stageClock{seen: map[string]*[numStages]time.Time{}, backup: map[string]string{}, phase: map[string]velerov2alpha1.DataUploadPhase{}}
	cc, err := cache.New(cfg, cache.Options{Scheme: kubescheme.New(), DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for _, w := range []struct {
		obj client.Object
		fn  func(any)
	}{
		{&velerov2alpha1.DataUpload{}, c.seeDataUpload},
		{&snapshotv1.VolumeSnapshot{}, func(o any) {
			if vs, ok := o.(*snapshotv1.VolumeSnapshot); ok && vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse {
				c.mark(vs.Name, StageSnapshotReady)
			}
		}},
		{&corev1.PersistentVolumeClaim{}, func(o any) {
			if pvc, ok := o.(*corev1.PersistentVolumeClaim); ok && pvc.Status.Phase == corev1.ClaimBound {
				c.mark(pvc.Name, StageBound)
			}
		}},
		{&corev1.Pod{}, func(o any) {
			if pod, ok := o.(*corev1.Pod); ok && pod.Status.Phase == corev1.PodRunning {
				c.mark(pod.Name, StageRunning)
			}
		}},
	} {
		inf, err := cc.GetInformer(ctx, w.obj)
		if err != nil {
			return nil, fmt.Errorf("bench: watch %T: %w", w.obj, err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: w.fn, UpdateFunc: func(_, n any) { w.fn(n) }}); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	go func() { _ = cc.Start(ctx) }()
	if !cc.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("bench: the watches of %s did not sync", ns)
	}
	return c, nil
}

func (c *stageClock) seeDataUpload(o any) {
	du, ok := o.(*velerov2alpha1.DataUpload)
	if !ok {
		return
	}
	c.mu.Lock()
	c.backup[du.Name] = du.Labels[velerov1.BackupNameLabel]
	c.phase[du.Name] = du.Status.Phase
	c.mu.Unlock()
	c.mark(du.Name, StageCreated)
	switch du.Status.Phase {
	case velerov2alpha1.DataUploadPhaseAccepted:
		c.mark(du.Name, StageAccepted)
	case velerov2alpha1.DataUploadPhasePrepared, velerov2alpha1.DataUploadPhaseInProgress, velerov2alpha1.DataUploadPhaseCompleted:
		c.mark(du.Name, StageAccepted)
		c.mark(du.Name, StagePrepared)
	}
}

// mark records the first time name was seen at stage s.
func (c *stageClock) mark(name string, s Stage) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.seen[name]
	if t == nil {
		t = &[numStages]time.Time{}
		c.seen[name] = t
	}
	if t[s].IsZero() {
		t[s] = now
	}
}

// settled lists the Backups in ours whose DataUpload is Prepared or has ended: what the batch
// measures is over for them.
func (c *stageClock) settled(ours map[string]bool) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for du, b := range c.backup {
		if !ours[b] {
			continue
		}
		switch c.phase[du] {
		case velerov2alpha1.DataUploadPhaseFailed, velerov2alpha1.DataUploadPhaseCanceled, velerov2alpha1.DataUploadPhaseCompleted:
			out[b] = true
		default:
			out[b] = out[b] || !c.seen[du][StagePrepared].IsZero()
		}
	}
	return out
}

// DataUploadTimes is one DataUpload's way: when each stage was first seen, after the batch's
// start (-1: never), and the phase it ended in.
type DataUploadTimes struct {
	Name  string                         `json:"name"`
	At    [numStages]time.Duration       `json:"at"`
	Phase velerov2alpha1.DataUploadPhase `json:"phase"`
}

// reached says whether the DataUpload was seen at stage s.
func (d DataUploadTimes) reached(s Stage) bool { return d.At[s] >= 0 }

// of returns the DataUploads of the Backups in ours, with their times after start.
func (c *stageClock) of(ours map[string]bool, start time.Time) []DataUploadTimes {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []DataUploadTimes
	for du, b := range c.backup {
		if !ours[b] {
			continue
		}
		d := DataUploadTimes{Name: du, Phase: c.phase[du]}
		for s, t := range c.seen[du] {
			d.At[s] = -1
			if !t.IsZero() {
				d.At[s] = t.Sub(start)
			}
		}
		out = append(out, d)
	}
	return out
}
