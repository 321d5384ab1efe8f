package chaos

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
	"sync"
	"time"

	"github.com/go-logr/logr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// Options says what to run.
type Options struct {
	Rounds int
	Seed   int64
	// Artifacts receives the report, the lane's and the system's logs.
	Artifacts string
	// LaneName names the local lane (a lane of that name is taken down first).
	LaneName string
	// PrepareTimeout is the system's data-mover prepare timeout: short, since every round waits
	// it out for its timed-out backup.
	PrepareTimeout time.Duration
	// SUTOnly: kill the system under test only, not the lane's components.
	SUTOnly bool
	Profile *profile.Profile
	Log     logr.Logger
}

// margin is the lateness allowed beyond the system's check interval: the watch polls every
// 200 ms, and a kill of the system at the deadline costs its restart (its cache sync included).
const margin = 5 * time.Second

// nodeAgentConfigMap is the ConfigMap the system under test is started with.
const nodeAgentConfigMap = "node-agent-config"

// watchStep is how often a round looks at the cluster.
const watchStep = 200 * time.Millisecond

type runner struct {
	o       Options
	l       *local.Lane
	c       client.Client
	s       sut.SUT
	killer  sut.Killer
	runID   string
	ns      string // the Velero namespace
	classRO string // the alias source class whose entry is the emulator's backup class, readOnly
	classNo string // the alias source class whose entry names a class that does not exist
	window  time.Duration

	// exited are the lane components the watchdog restarted after they exited on their own, since
	// a round last took them; watchdogErr is a restart that failed.
	mu          sync.Mutex
	exited      []string
	watchdogErr error
}

// watchdog restarts every lane component that exits on its own until ctx ends, as a kubelet
// would: the CSI sidecars exit by design when they lose their driver's connection, so each kill
// of the emulator is followed by its sidecars' exits at their next call.
func (r *runner) watchdog(ctx context.Context) {
	_ = wait.PollUntilContextCancel(ctx, watchStep, false, func(context.Context) (bool, error) {
		names, err := r.l.RestartExited()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.exited = append(r.exited, names...)
		if err != nil && r.watchdogErr == nil {
			r.watchdogErr = err
		}
		return false, nil
	})
}

// watchdogFailed is the watchdog's first failed restart.
func (r *runner) watchdogFailed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watchdogErr
}

// takeExited returns the components restarted since the last call.
func (r *runner) takeExited() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := r.exited
	r.exited = nil
	return names
}

// Run brings the lane and the system under test up, runs the rounds and takes everything down;
// the report holds every round run, also when an error (the lane itself failing, not a check)
// cut the run short.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	start := time.Now()
	components := LaneComponents
	if o.SUTOnly {
		components = nil
	}
	// Kills land before, around and after the timed-out backup's deadline.
	window := o.PrepareTimeout + 5*time.Second
	rep = &Report{Seed: o.Seed, Rounds: o.Rounds, LaneName: o.LaneName, PrepareTimeout: o.PrepareTimeout, Margin: margin,
		Plan: Plan(o.Seed, o.Rounds, window, components), Started: start}
	defer func() {
		rep.Wall = time.Since(start)
		rep.Summary = Summarize(rep.Records)
		if err != nil {
			rep.Error = err.Error()
		}
	}()
	l, err := local.Up(ctx, local.Options{Name: o.LaneName, Profile: o.Profile, ArtifactsDir: o.Artifacts, Log: o.Log})
	if err != nil {
		return rep, fmt.Errorf("chaos: %w", err)
	}
	defer func() {
		if derr := l.Down(context.Background()); derr != nil {
			err = errors.Join(err, fmt.Errorf("chaos: %w", derr))
		}
	}()
	rep.Versions = l.Versions()
	c, err := client.New(l.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return rep, fmt.Errorf("chaos: client: %w", err)
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return rep, fmt.Errorf("chaos: %w", err)
	}
	r := &runner{o: o, l: l, c: c, runID: hex.EncodeToString(b), window: window}
	r.ns = "chaos-velero-" + r.runID
	if err := r.setUp(ctx); err != nil {
		return rep, err
	}
	defer func() {
		if serr := r.s.Stop(context.Background()); serr != nil {
			err = errors.Join(err, fmt.Errorf("chaos: %w", serr))
		}
	}()
	wdCtx, stopWatchdog := context.WithCancel(ctx)
	var wd sync.WaitGroup
	wd.Go(func() { r.watchdog(wdCtx) })
	defer func() {
		stopWatchdog()
		wd.Wait()
	}()
	rep.CheckInterval = r.s.Properties().TimeoutCheckInterval
	lim := Limits{PrepareTimeout: o.PrepareTimeout, CheckInterval: rep.CheckInterval, Margin: margin}
	for _, p := range rep.Plan {
		rec, err := r.round(ctx, p)
		if rec != nil {
			Check(rec, lim)
			rep.Records = append(rep.Records, *rec)
			o.Log.Info("round", "n", p.Round, "took", rec.Duration.Round(100*time.Millisecond).String(), "right", rec.Right, "wrong", rec.Wrong,
				"lateness", fmt.Sprint(rec.Lateness), "problems", len(rec.Problems))
		}
		if err != nil {
			return rep, fmt.Errorf("chaos: round %d: %w", p.Round, err)
		}
	}
	return rep, nil
}

// setUp makes the Velero namespace, the two alias source classes and the node-agent ConfigMap
// (each labelled as the harness's; the lane goes with them), and starts the reference through
// suites/sut as the suites do.
func (r *runner) setUp(ctx context.Context) error {
	labels := lane.ManagedLabels(nil)
	if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.ns, Labels: labels}}); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	src, _ := r.o.Profile.Class(profile.RoleSource)
	backup, ok := r.o.Profile.Class(profile.RoleBackup)
	if !ok {
		return fmt.Errorf("chaos: profile %s has no backup class", r.o.Profile.Name)
	}
	srcClass := &storagev1.StorageClass{}
	if err := r.c.Get(ctx, client.ObjectKey{Name: src.Name}, srcClass); err != nil {
		return fmt.Errorf("chaos: source class %s: %w", src.Name, err)
	}
	r.classRO, r.classNo = "chaos-"+r.runID+"-ro", "chaos-"+r.runID+"-missing"
	for _, name := range []string{r.classRO, r.classNo} {
		if err := r.c.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Provisioner: srcClass.Provisioner, Parameters: srcClass.Parameters, ReclaimPolicy: srcClass.ReclaimPolicy,
			VolumeBindingMode: srcClass.VolumeBindingMode}); err != nil {
			return fmt.Errorf("chaos: %w", err)
		}
	}
	doc := fmt.Sprintf(`{"loadConcurrency": {"globalConfig": 8}, "backupPVC": {%q: {"storageClass": %q, "readOnly": true}, %q: {"storageClass": %q}}}`,
		r.classRO, backup.Name, r.classNo, "chaos-"+r.runID+"-no-such-class")
	if err := r.c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: nodeAgentConfigMap, Labels: labels},
		Data: map[string]string{"node-agent-config.json": doc}}); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	cfg := sut.Config{SUT: "reference", Lane: "local", Kubeconfig: r.l.Kubeconfig(), Namespace: r.ns, NodeAgentConfigMap: nodeAgentConfigMap,
		PrepareTimeout: r.o.PrepareTimeout, WorkDir: filepath.Join(os.TempDir(), "backuppvc-sut", "chaos-"+r.runID),
		LogDir: filepath.Join(r.o.Artifacts, "sut", "reference")}
	s, err := sut.New(cfg)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if err := sut.SweepStale(cfg.WorkDir); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	k, ok := s.(sut.Killer)
	if !ok {
		return fmt.Errorf("chaos: the system under test %s cannot be killed and restarted (no sut.Killer)", s.Name())
	}
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	r.s, r.killer = s, k
	return nil
}

// backupPlan is one backup of a round: its source's alias class and the outcome it must reach.
type backupPlan struct {
	ns, name, class, expect string
}

// round runs one round: three namespaces with a bound PVC each, their Backups, the plan's kills
// while they run, the watch until every Backup has ended, the wait for the exposes' cleanup, and
// the round's own cleanup. With an error, the record holds what the round did before it.
func (r *runner) round(ctx context.Context, p RoundPlan) (*RoundRecord, error) {
	start := time.Now()
	rec := &RoundRecord{Round: p.Round}
	labels := lane.ManagedLabels(nil)
	var plans []backupPlan
	for i, pl := range []struct{ class, expect string }{{r.classRO, Completed}, {r.classRO, Completed}, {r.classNo, PartiallyFailed}} {
		name := fmt.Sprintf("chaos-%s-r%02d-%d", r.runID, p.Round, i)
		plans = append(plans, backupPlan{ns: name, name: name, class: pl.class, expect: pl.expect})
	}
	var namespaces []string
	for _, b := range plans {
		namespaces = append(namespaces, b.ns)
	}
	// The round's cleanup runs whatever happens after this point.
	defer func() {
		left, err := r.cleanUp(ctx, plans, namespaces)
		if err != nil {
			left = append(left, "the round's cleanup failed: "+err.Error())
		}
		for _, l := range left {
			rec.Leftovers = append(rec.Leftovers, "after the round's cleanup: "+l)
		}
		rec.Duration = time.Since(start)
		rec.Exited = r.takeExited()
	}()
	for _, b := range plans {
		if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.ns, Labels: labels}}); err != nil {
			return rec, err
		}
		if err := r.c.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: b.ns, Name: "data", Labels: labels},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(b.class), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}); err != nil {
			return rec, err
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, watchStep, r.o.Profile.Timeouts.Provision.Duration, true, func(ctx context.Context) (bool, error) {
		for _, b := range plans {
			pvc := &corev1.PersistentVolumeClaim{}
			if r.c.Get(ctx, client.ObjectKey{Namespace: b.ns, Name: "data"}, pvc) != nil || pvc.Status.Phase != corev1.ClaimBound {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return rec, fmt.Errorf("the source PVCs were not bound within %v: %w", r.o.Profile.Timeouts.Provision.Duration, err)
	}
	t0 := time.Now()
	for _, b := range plans {
		// csiSnapshotTimeout left at Velero's default, as flow.go does: it bounds the data path.
		if err := r.c.Create(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: b.name, Labels: labels},
			Spec: velerov1.BackupSpec{IncludedNamespaces: []string{b.ns}, SnapshotMoveData: ptr.To(true)}}); err != nil {
			return rec, err
		}
		rec.Backups = append(rec.Backups, BackupRecord{Name: b.name, Expect: b.expect})
	}
	var kills sync.WaitGroup
	kills.Go(func() { rec.Kills = r.kill(ctx, t0, p.Kills) })
	watchErr := r.watch(ctx, rec, r.o.PrepareTimeout+r.window+3*time.Minute)
	kills.Wait()
	if watchErr != nil && ctx.Err() != nil {
		return rec, watchErr
	}
	// A restart that failed leaves the lane without the component: nothing after it would mean
	// anything.
	for _, k := range rec.Kills {
		if k.Error != "" {
			return rec, fmt.Errorf("%s did not come back after its kill: %s", k.Component, k.Error)
		}
	}
	// The watchdog restarts what dies on its own; a restart that failed leaves the lane broken.
	if err := r.watchdogFailed(); err != nil {
		return rec, fmt.Errorf("a lane component could not be restarted after it exited: %w", err)
	}
	if err := r.s.Running(); err != nil {
		return rec, fmt.Errorf("the system under test died: %w", err)
	}
	// The exposes' cleanup (D6) may run a little after the DataUpload's end: wait for it, as
	// flow.go's expectNothingLeft does, with its deadline.
	var names, uids []string
	for _, du := range rec.DataUploads {
		names, uids = append(names, du.Name), append(uids, du.UID)
	}
	var left []string
	_ = wait.PollUntilContextTimeout(ctx, watchStep, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		objs, err := r.collect(ctx)
		if err != nil {
			return false, nil
		}
		left = ExposeLeftovers(objs, r.ns, names, uids)
		return len(left) == 0, nil
	})
	rec.Leftovers = append(rec.Leftovers, left...)
	return rec, ctx.Err()
}

// kill runs the plan's kills, each at its moment after t0 (or as soon as the one before is done).
func (r *runner) kill(ctx context.Context, t0 time.Time, plan []Kill) []KillRecord {
	var out []KillRecord
	for _, k := range plan {
		if d := time.Until(t0.Add(k.At)); d > 0 {
			select {
			case <-ctx.Done():
				return out
			case <-time.After(d):
			}
		}
		begin := time.Now()
		kr := KillRecord{Component: k.Component, Planned: k.At, At: begin.Sub(t0), Time: begin}
		var err error
		if k.Component == SUTComponent {
			if err = r.killer.Kill(ctx); err == nil {
				err = r.killer.Restart(ctx)
			}
		} else {
			err = r.l.KillRestart(ctx, k.Component)
		}
		kr.Down = time.Since(begin)
		if err != nil {
			kr.Error = err.Error()
		}
		out = append(out, kr)
		r.o.Log.V(1).Info("killed", "component", k.Component, "at", kr.At.String(), "err", kr.Error)
	}
	return out
}

// watch records the round's Backups and DataUploads every watchStep until every Backup and each
// of their DataUploads has ended or timeout passes (the records then show what had not ended).
func (r *runner) watch(ctx context.Context, rec *RoundRecord, timeout time.Duration) error {
	ours := map[string]int{}
	for i, b := range rec.Backups {
		ours[b.Name] = i
	}
	dus := map[string]*DataUploadRecord{}
	err := wait.PollUntilContextTimeout(ctx, watchStep, timeout, true, func(ctx context.Context) (bool, error) {
		now := time.Now()
		list := &velerov2alpha1.DataUploadList{}
		if err := r.c.List(ctx, list, client.InNamespace(r.ns)); err != nil {
			return false, nil
		}
		for _, du := range list.Items {
			b := du.Labels[velerov1.BackupNameLabel]
			if _, ok := ours[b]; !ok {
				continue
			}
			d := dus[du.Name]
			if d == nil {
				d = &DataUploadRecord{Name: du.Name, UID: string(du.UID), Backup: b}
				dus[du.Name] = d
			}
			phase := string(du.Status.Phase)
			d.Phase, d.Message = phase, du.Status.Message
			if phase != "" && (len(d.Phases) == 0 || d.Phases[len(d.Phases)-1] != phase) {
				d.Phases = append(d.Phases, phase)
			}
			if du.Status.AcceptedTimestamp != nil {
				d.Accepted = du.Status.AcceptedTimestamp.Time
			}
			// Completed implies Prepared: a DataUpload can pass through Prepared between two looks.
			if d.Prepared.IsZero() && (phase == string(velerov2alpha1.DataUploadPhasePrepared) || phase == string(velerov2alpha1.DataUploadPhaseInProgress) ||
				phase == string(velerov2alpha1.DataUploadPhaseCompleted)) {
				d.Prepared = now
			}
			if slices.Contains(terminalDU, phase) && d.Ended.IsZero() {
				d.Ended = now
			}
		}
		ended := 0
		for i := range rec.Backups {
			b := &velerov1.Backup{}
			if r.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: rec.Backups[i].Name}, b) != nil {
				continue
			}
			rec.Backups[i].Phase, rec.Backups[i].Errors = string(b.Status.Phase), b.Status.Errors
			switch b.Status.Phase {
			case velerov1.BackupPhaseCompleted, velerov1.BackupPhasePartiallyFailed, velerov1.BackupPhaseFailed, velerov1.BackupPhaseFailedValidation:
				ended++
			}
		}
		// The DataUploads too: a Backup can end between this look at the DataUploads and the one
		// at it, and the record must hold their ends.
		for _, d := range dus {
			if !slices.Contains(terminalDU, d.Phase) {
				return false, nil
			}
		}
		return ended == len(rec.Backups), nil
	})
	rec.DataUploads = rec.DataUploads[:0]
	for _, d := range dus {
		rec.DataUploads = append(rec.DataUploads, *d)
	}
	slices.SortFunc(rec.DataUploads, func(a, b DataUploadRecord) int { return strings.Compare(a.Name, b.Name) })
	return err
}

// cleanUp deletes the round's Backups, their DataUploads and its namespaces, and waits until they
// and everything in or of them are gone; it returns what was still there at the deadline.
func (r *runner) cleanUp(ctx context.Context, plans []backupPlan, namespaces []string) ([]string, error) {
	// The run's own context may be cancelled (Ctrl-C): clean up anyway, within the deadline.
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, b := range plans {
		if err := r.c.Delete(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: b.name}}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
		if err := r.c.DeleteAllOf(ctx, &velerov2alpha1.DataUpload{}, client.InNamespace(r.ns), client.MatchingLabels{velerov1.BackupNameLabel: b.name}); err != nil {
			errs = append(errs, err)
		}
		if err := r.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.ns}}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	var left []string
	_ = wait.PollUntilContextTimeout(ctx, watchStep, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		objs, err := r.collect(ctx)
		if err != nil {
			return false, nil
		}
		left = RoundLeftovers(objs, namespaces)
		for _, b := range plans {
			if r.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: b.name}, &velerov1.Backup{}) == nil {
				left = append(left, "Backup "+b.name)
			}
			list := &velerov2alpha1.DataUploadList{}
			if r.c.List(ctx, list, client.InNamespace(r.ns), client.MatchingLabels{velerov1.BackupNameLabel: b.name}) == nil {
				for _, du := range list.Items {
					left = append(left, "DataUpload "+du.Name)
				}
			}
		}
		return len(left) == 0, nil
	})
	return left, errors.Join(errs...)
}

// collect lists what the leftover checks look at: namespaces, pods, PVCs, VolumeSnapshots,
// labelled secrets and configmaps, PVs and VolumeSnapshotContents.
func (r *runner) collect(ctx context.Context) ([]Object, error) {
	var objs []Object
	of := func(kind string, m metav1.ObjectMeta, ref string) Object {
		return Object{Kind: kind, Namespace: m.Namespace, Name: m.Name, Ref: ref, Labels: m.Labels, Terminating: m.DeletionTimestamp != nil}
	}
	nss := &corev1.NamespaceList{}
	pods := &corev1.PodList{}
	pvcs := &corev1.PersistentVolumeClaimList{}
	vss := &snapshotv1.VolumeSnapshotList{}
	secrets := &corev1.SecretList{}
	cms := &corev1.ConfigMapList{}
	pvs := &corev1.PersistentVolumeList{}
	vscs := &snapshotv1.VolumeSnapshotContentList{}
	for _, l := range []struct {
		list client.ObjectList
		opts []client.ListOption
	}{{nss, nil}, {pods, nil}, {pvcs, nil}, {vss, nil}, {secrets, []client.ListOption{client.HasLabels{CopyLabel}}},
		{cms, []client.ListOption{client.HasLabels{CopyLabel}}}, {pvs, nil}, {vscs, nil}} {
		if err := r.c.List(ctx, l.list, l.opts...); err != nil {
			return nil, err
		}
	}
	for _, o := range nss.Items {
		objs = append(objs, of("Namespace", o.ObjectMeta, ""))
	}
	for _, o := range pods.Items {
		objs = append(objs, of("Pod", o.ObjectMeta, ""))
	}
	for _, o := range pvcs.Items {
		objs = append(objs, of("PersistentVolumeClaim", o.ObjectMeta, ""))
	}
	for _, o := range vss.Items {
		objs = append(objs, of("VolumeSnapshot", o.ObjectMeta, ""))
	}
	for _, o := range secrets.Items {
		objs = append(objs, of("Secret", o.ObjectMeta, ""))
	}
	for _, o := range cms.Items {
		objs = append(objs, of("ConfigMap", o.ObjectMeta, ""))
	}
	for _, o := range pvs.Items {
		ref := ""
		if c := o.Spec.ClaimRef; c != nil {
			ref = c.Namespace + "/" + c.Name
		}
		objs = append(objs, of("PersistentVolume", o.ObjectMeta, ref))
	}
	for _, o := range vscs.Items {
		objs = append(objs, of("VolumeSnapshotContent", o.ObjectMeta, o.Spec.VolumeSnapshotRef.Namespace+"/"+o.Spec.VolumeSnapshotRef.Name))
	}
	return objs, nil
}
