package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/moverreport"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// MessagePrepareTimeout is the DataUpload message Velero v1.18.3 sets at the prepare timeout.
const MessagePrepareTimeout = "timeout on preparing data upload"

// Checker runs one scenario's backups and checks them against the spec.
type Checker struct {
	Res     *resources.Resources
	Obs     *Observer
	Shared  Shared
	Profile *profile.Profile
	Classes Classes
	// Props are the system under test's: the specs read them, never its name.
	Props sut.Properties
	// Logs are the system under test's log files (its LogFiles), read for a failure's reason.
	Logs func() []string
	// Killer crashes and restarts the system under test: set only in the process that started it
	// (the first, where Serial specs run), or for a second installation a spec started
	// (secondInstallation), and only for a system that is a sut.Killer.
	Killer sut.Killer
	// Installed waits for the installation the Checker judges to have started, and says whether
	// it did: set for a second installation a spec starts in the background (secondInstallation);
	// nil for the run's, started before the specs.
	Installed func() error
}

// Result is what one backup showed, for the report.
type Result struct {
	Namespace, Backup, DataUpload string
	Evidence                      []string
	// Findings are behaviours worth a reader's attention that do not fail the spec (they head the
	// report): a DataUpload Completed with no data path, for one.
	Findings []string
	// Filled is what was written into the source volume before the backup, when anything was.
	Filled *moverreport.Report
	// Probe is the report of the harness's probe in the backupPod of a system whose data mover
	// is its own ("" when none ran).
	Probe string
}

func (k *Checker) c() client.Client { return k.Res.GetControllerRuntimeClient() }

// seen waits until the Observer has recorded the object of this backup's DataUpload name (look is
// one of its lookups: PVC, Pod, PV) and returns its last recorded state.
func seen[T any](ctx context.Context, k *Checker, r *Result, what string, timeout time.Duration, look func(string) (T, bool)) (T, error) {
	var obj T
	err := k.waitFor(ctx, r, what, timeout, func(context.Context) (bool, error) {
		var ok bool
		obj, ok = look(r.DataUpload)
		return ok, nil
	})
	return obj, err
}

// waitFor polls cond until it holds or timeout passes; on timeout the error says what and shows
// the run's objects for this backup.
func (k *Checker) waitFor(ctx context.Context, r *Result, what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	err := wait.PollUntilContextTimeout(ctx, waitStep, timeout, true, cond)
	if err != nil {
		return fmt.Errorf("waiting %v for %s: %w\n%s", timeout, what, err, k.describe(ctx, r))
	}
	return nil
}

// Backup creates a namespace with one PVC of the scenario's source class, backs it up with
// snapshotMoveData, and checks the backupPVC, the backupPod, the DataUpload's phases and the
// Backup's outcome against the scenario, then that nothing of the expose is left.
func (k *Checker) Backup(ctx context.Context, tr *Tracker, sc Scenario, i int) (*Result, error) {
	r := &Result{Namespace: fmt.Sprintf("bpvc-%s-%s-%d", k.Shared.RunID, sc.Name, i), Backup: sc.BackupName(k.Shared.RunID, i)}
	c := k.c()
	if err := tr.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.Namespace, Labels: managedLabels()}}); err != nil {
		return r, err
	}
	mode := corev1.PersistentVolumeFilesystem
	if sc.Block {
		mode = corev1.PersistentVolumeBlock
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: "data", Labels: managedLabels()},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(sc.SourceClass(k.Shared.RunID)), VolumeMode: &mode,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(sourceSize)}}}}
	if err := tr.Create(ctx, pvc); err != nil {
		return r, err
	}
	if err := k.waitFor(ctx, r, "the source PVC to be bound", k.Profile.Timeouts.Provision.Duration, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKeyFromObject(pvc), pvc) == nil && pvc.Status.Phase == corev1.ClaimBound, nil
	}); err != nil {
		return r, err
	}
	if k.fills(sc) {
		if err := k.fill(ctx, tr, r, pvc); err != nil {
			return r, err
		}
	}
	copies, err := k.makeCopySources(ctx, tr, sc, r)
	if err != nil {
		return r, err
	}
	// B7: the original VolumeSnapshot's restoreSize, watched from before the Backup exists.
	var snapshots *SnapshotWatch
	if sc.RestoreSize != "" {
		wc, err := client.NewWithWatch(k.Res.GetConfig(), client.Options{Scheme: k.Res.GetScheme()})
		if err != nil {
			return r, err
		}
		if snapshots, err = WatchSnapshots(ctx, wc, r.Namespace); err != nil {
			return r, err
		}
		defer snapshots.Stop()
	}
	if k.Installed != nil {
		if err := k.Installed(); err != nil {
			return r, err
		}
	}
	// csiSnapshotTimeout is left at Velero's default (10m): Velero makes it the DataUpload's
	// operationTimeout, and that bounds more than the snapshot: the backupPod's wait for its
	// kopia repository too (--resource-timeout). At the profile's 60 s, 20 backups at once on
	// 2 cores failed "backup repository not provisioned".
	backup := &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: k.Shared.VeleroNS, Name: r.Backup, Labels: managedLabels()},
		Spec: velerov1.BackupSpec{IncludedNamespaces: []string{r.Namespace}, SnapshotMoveData: ptr.To(true)}}
	if err := tr.Create(ctx, backup); err != nil {
		return r, err
	}

	var du *velerov2alpha1.DataUpload
	// Velero's server works through Backups one at a time: with many at once, the last one's
	// DataUpload comes minutes after its Backup was created.
	if err := k.waitFor(ctx, r, "the DataUpload to be Accepted", k.Profile.Timeouts.Provision.Duration+3*time.Minute, func(context.Context) (bool, error) {
		var ok bool
		if du, ok = k.Obs.DataUploadOf(r.Backup); !ok {
			return false, nil
		}
		r.DataUpload = du.Name
		return du.Status.Phase != "" && du.Status.Phase != velerov2alpha1.DataUploadPhaseNew, nil
	}); err != nil {
		return r, err
	}
	// D2: Velero sets the expose-on-going label in the update that makes the DataUpload Accepted
	// (acceptDataUpload), so an Accepted one without it was accepted wrongly.
	if du.Status.Phase == velerov2alpha1.DataUploadPhaseAccepted && du.Labels[ExposeOnGoingLabel] != "true" {
		return r, fmt.Errorf("DataUpload %s is Accepted without the label %s=true (labels %v)", du.Name, ExposeOnGoingLabel, du.Labels)
	}
	if sc.Outcome == ExposeFails {
		if err := k.expectExposeCollision(ctx, r, copies); err != nil {
			return r, err
		}
		return r, k.expectNothingLeft(ctx, r)
	}
	if err := k.checkBackupPVC(ctx, sc, r, mode); err != nil {
		return r, err
	}
	if snapshots != nil {
		if err := k.checkRequestedSize(ctx, sc, r, pvc, snapshots); err != nil {
			return r, err
		}
	}
	if err := k.checkBackupPod(ctx, sc, r, mode); err != nil {
		return r, err
	}
	if sc.WriteProbe && k.Props.DataMover != sut.HarnessDataMover {
		var err error
		if r.Probe, err = k.probeBackupPod(ctx, r); err != nil {
			return r, err
		}
	}
	var acceptedBefore metav1.Time
	if sc.Restart {
		if acceptedBefore, err = k.killAndRestart(ctx, r); err != nil {
			return r, err
		}
	}
	switch {
	case sc.Outcome == Succeeds && k.Props.DataPath:
		err = k.expectCompleted(ctx, sc, r)
	case sc.Outcome == Succeeds:
		err = k.expectUpToDataPath(ctx, sc, r)
	case sc.Outcome == Canceled:
		err = k.expectCanceled(ctx, r)
	default:
		err = k.expectPrepareTimeout(ctx, r)
	}
	if err != nil {
		return r, err
	}
	if copies != nil {
		if err := k.expectCopied(ctx, r, copies); err != nil {
			return r, err
		}
	}
	if sc.Restart {
		if err := k.expectAcceptedKept(ctx, r, acceptedBefore); err != nil {
			return r, err
		}
	}
	return r, k.expectNothingLeft(ctx, r)
}

// checkBackupPVC: class, exactly one access mode, volume mode, data source (B2-B6).
func (k *Checker) checkBackupPVC(ctx context.Context, sc Scenario, r *Result, mode corev1.PersistentVolumeMode) error {
	pvc, err := seen(ctx, k, r, "the backupPVC", 30*time.Second, k.Obs.PVC)
	if err != nil {
		return err
	}
	var problems []string
	if want := sc.BackupClass(k.Shared.RunID, k.Classes); pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != want {
		problems = append(problems, fmt.Sprintf("storageClassName %v, want %s", ptr.Deref(pvc.Spec.StorageClassName, "<nil>"), want))
	}
	if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{sc.WantMode}) {
		problems = append(problems, fmt.Sprintf("accessModes %v, want exactly [%s]", pvc.Spec.AccessModes, sc.WantMode))
	}
	if pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != mode {
		problems = append(problems, fmt.Sprintf("volumeMode %s, want %s", ptr.Deref(pvc.Spec.VolumeMode, "<nil>"), mode))
	}
	// The backupVS is named after the DataUpload (B6, B8).
	if ds := pvc.Spec.DataSource; ds == nil || ds.Kind != "VolumeSnapshot" || ptr.Deref(ds.APIGroup, "") != "snapshot.storage.k8s.io" || ds.Name != r.DataUpload {
		problems = append(problems, fmt.Sprintf("dataSource %+v, want VolumeSnapshot %s", ds, r.DataUpload))
	}
	// B5: in the DataUpload's namespace, no labels, the entry's annotations and only those (the
	// ones Kubernetes itself adds to a claim aside), controlled by the DataUpload.
	if pvc.Namespace != k.Shared.VeleroNS {
		problems = append(problems, fmt.Sprintf("namespace %s, want the DataUpload's, %s", pvc.Namespace, k.Shared.VeleroNS))
	}
	if len(pvc.Labels) > 0 {
		problems = append(problems, fmt.Sprintf("labels %v, want none", pvc.Labels))
	}
	if got, want := ownAnnotations(pvc.Annotations), k.Classes.entryAnnotations(sc); !maps.Equal(got, want) {
		problems = append(problems, fmt.Sprintf("annotations %v, want the entry's %v", got, want))
	}
	if p := controlledBy(pvc.OwnerReferences, r.DataUpload); p != "" {
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("backupPVC %s/%s: %s", pvc.Namespace, pvc.Name, strings.Join(problems, "; "))
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("backupPVC class %s, accessModes %v, volumeMode %s", *pvc.Spec.StorageClassName, pvc.Spec.AccessModes, mode))
	return nil
}

// checkRequestedSize: the backupPVC requests the original VolumeSnapshot's restoreSize when it is
// set and not zero, else the source PVC's request (B7). The scenario's source class makes the
// driver report a restoreSize other than the source's request, or the check would not tell the
// two apart.
func (k *Checker) checkRequestedSize(ctx context.Context, sc Scenario, r *Result, source *corev1.PersistentVolumeClaim, snapshots *SnapshotWatch) error {
	var vsName string
	var restore *resource.Quantity
	// The original VolumeSnapshot was ready before the backupPVC was made: the watch has seen it,
	// or is about to.
	if err := k.waitFor(ctx, r, "the original VolumeSnapshot to have been seen ready", 30*time.Second, func(context.Context) (bool, error) {
		var ok bool
		vsName, restore, ok = snapshots.Ready()
		return ok, nil
	}); err != nil {
		return err
	}
	want := source.Spec.Resources.Requests[corev1.ResourceStorage]
	from := fmt.Sprintf("the source PVC's request (VolumeSnapshot %s has no restoreSize)", vsName)
	if restore != nil && !restore.IsZero() {
		want, from = *restore, fmt.Sprintf("the restoreSize of the original VolumeSnapshot %s", vsName)
	}
	if sc.RestoreSize != "" {
		// The snapshot must say what the scenario's class asked the driver for ("0": nothing),
		// or the spec would not tell the two sizes apart.
		asked := resource.MustParse(sc.RestoreSize)
		if got := ptr.Deref(restore, resource.Quantity{}); got.Cmp(asked) != 0 {
			return fmt.Errorf("VolumeSnapshot %s: restoreSize %v, the scenario's source class asks the driver for %s (%s=%s): B7 cannot be judged",
				vsName, restore, sc.RestoreSize, k.Profile.Capabilities.RestoreSizeParameter, sc.RestoreSize)
		}
	}
	pvc, err := seen(ctx, k, r, "the backupPVC", 30*time.Second, k.Obs.PVC)
	if err != nil {
		return err
	}
	got, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || got.Cmp(want) != 0 {
		return fmt.Errorf("backupPVC %s/%s: requests.storage %v, want %s, %s (the source PVC requests %s)",
			pvc.Namespace, pvc.Name, got.String(), want.String(), from, source.Spec.Resources.Requests.Storage().String())
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("backupPVC requests %s, %s; the source PVC requests %s", got.String(), from, source.Spec.Resources.Requests.Storage().String()))
	return nil
}

// checkBackupPod: the volume read-only with readOnly, a device for Block (C2).
func (k *Checker) checkBackupPod(ctx context.Context, sc Scenario, r *Result, mode corev1.PersistentVolumeMode) error {
	pod, err := seen(ctx, k, r, "the backupPod", 30*time.Second, k.Obs.Pod)
	if err != nil {
		return err
	}
	readOnly := sc.WantMode == corev1.ReadOnlyMany
	var vol *corev1.Volume
	for i := range pod.Spec.Volumes {
		if pvc := pod.Spec.Volumes[i].PersistentVolumeClaim; pvc != nil && pvc.ClaimName == r.DataUpload {
			vol = &pod.Spec.Volumes[i]
		}
	}
	if vol == nil {
		return fmt.Errorf("backupPod %s has no volume of the backupPVC", pod.Name)
	}
	if vol.PersistentVolumeClaim.ReadOnly != readOnly {
		return fmt.Errorf("backupPod %s volume readOnly=%v, want %v", pod.Name, vol.PersistentVolumeClaim.ReadOnly, readOnly)
	}
	problems := podShape(pod, r.DataUpload)
	if p := spcProblem(pod, sc.WantSPC); p != "" {
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("backupPod %s: %s", pod.Name, strings.Join(problems, "; "))
	}
	if sc.WantSPC {
		r.Evidence = append(r.Evidence, "backupPod securityContext.seLinuxOptions.type spc_t")
	}
	if sc.Affinity {
		if p := affinityProblem(pod, k.Shared.AffinityHostname, NoSuchNode(k.Shared.RunID)); p != "" {
			return fmt.Errorf("backupPod %s: %s", pod.Name, p)
		}
		r.Evidence = append(r.Evidence, fmt.Sprintf("backupPod requires %s=%s, its backupPVC class's loadAffinity", HostnameLabel, k.Shared.AffinityHostname))
	}
	ctr := pod.Spec.Containers[0]
	var mount *corev1.VolumeMount
	for i := range ctr.VolumeMounts {
		if ctr.VolumeMounts[i].Name == vol.Name {
			mount = &ctr.VolumeMounts[i]
		}
	}
	device := slices.ContainsFunc(ctr.VolumeDevices, func(d corev1.VolumeDevice) bool { return d.Name == vol.Name })
	switch {
	case mode == corev1.PersistentVolumeBlock && (!device || mount != nil):
		return fmt.Errorf("backupPod %s: a Block backupPVC must be attached as a device, not mounted (devices %v)", pod.Name, ctr.VolumeDevices)
	case mode == corev1.PersistentVolumeFilesystem && (device || mount == nil):
		return fmt.Errorf("backupPod %s: a Filesystem backupPVC must be mounted (mounts %v)", pod.Name, ctr.VolumeMounts)
	case mount != nil && mount.ReadOnly != readOnly:
		return fmt.Errorf("backupPod %s mount readOnly=%v, want %v", pod.Name, mount.ReadOnly, readOnly)
	}
	return nil
}

// fills says whether the scenario's source volume gets known data before the backup: wherever the
// data path runs, so that what it read or moved can be compared with what was written (a
// Filesystem source: the fill pod mounts it).
func (k *Checker) fills(sc Scenario) bool {
	return k.Props.DataPath && k.Shared.MoverImage != "" && sc.Outcome == Succeeds && !sc.Block
}

// dataUploadEnd waits for the DataUpload to reach a final phase. Velero waits up to a minute for
// its data mover's events after the backupPod ends, and checks plugin operations periodically.
func (k *Checker) dataUploadEnd(ctx context.Context, r *Result) (*velerov2alpha1.DataUpload, error) {
	timeout := k.Profile.Timeouts.Provision.Duration + k.Profile.Timeouts.Prepare.Duration + k.Props.TimeoutCheckInterval + 2*time.Minute
	du, _, err := k.dataUploadFinal(ctx, r, "the DataUpload to end", timeout)
	return du, err
}

// dataUploadFinal waits until the Observer has seen the DataUpload in a final phase, and returns
// that state and when it was seen.
func (k *Checker) dataUploadFinal(ctx context.Context, r *Result, what string, timeout time.Duration) (*velerov2alpha1.DataUpload, time.Time, error) {
	var du *velerov2alpha1.DataUpload
	var at time.Time
	err := k.waitFor(ctx, r, what, timeout, func(context.Context) (bool, error) {
		var ok bool
		if du, ok = k.Obs.DataUpload(r.DataUpload); !ok || !finalDU(du) {
			return false, nil
		}
		at = time.Now()
		return true, nil
	})
	return du, at, err
}

// expectProvisionedThrough: the backup PV was provisioned through the scenario's class (B4).
func (k *Checker) expectProvisionedThrough(ctx context.Context, sc Scenario, r *Result) error {
	pv, err := seen(ctx, k, r, "the backup PV to have been seen", 10*time.Second, k.Obs.PV)
	if err != nil {
		return err
	}
	if want := sc.BackupClass(k.Shared.RunID, k.Classes); pv.Spec.StorageClassName != want {
		return fmt.Errorf("backup PV %s was provisioned through class %s, want %s", pv.Name, pv.Spec.StorageClassName, want)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("backup PV %s provisioned through %s", pv.Name, pv.Spec.StorageClassName))
	return nil
}

// expectCompleted, where the data path runs: the DataUpload Completed with the evidence of a data
// mover's result (a snapshot ID and the bytes it moved, the bytes written into the source when
// the spec wrote some), the backupPVC provisioned through the expected class, the Backup Completed.
func (k *Checker) expectCompleted(ctx context.Context, sc Scenario, r *Result) error {
	du, err := k.dataUploadEnd(ctx, r)
	if err != nil {
		return err
	}
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseCompleted {
		return fmt.Errorf("DataUpload %s ended %s (%q), want Completed\n%s", du.Name, du.Status.Phase, du.Status.Message, k.describe(ctx, r))
	}
	if du.Status.SnapshotID == "" {
		return fmt.Errorf("DataUpload %s Completed with no snapshotID: no data mover result, nothing proves data moved", du.Name)
	}
	moved := du.Status.Progress.TotalBytes
	if r.Filled != nil && moved != r.Filled.Bytes {
		return fmt.Errorf("DataUpload %s Completed having moved %d bytes (progress %d/%d); %d were written into the source before the backup",
			du.Name, moved, du.Status.Progress.BytesDone, du.Status.Progress.TotalBytes, r.Filled.Bytes)
	}
	if r.Filled == nil && moved <= 0 && !sc.Block {
		return fmt.Errorf("DataUpload %s Completed with progress %d/%d bytes: nothing proves data moved", du.Name, du.Status.Progress.BytesDone, moved)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("DataUpload Completed, snapshotID %.24s, %d bytes", du.Status.SnapshotID, moved))
	if err := k.expectProvisionedThrough(ctx, sc, r); err != nil {
		return err
	}
	if sc.WriteProbe {
		if err := k.expectWriteProbe(ctx, sc, r); err != nil {
			return err
		}
	}
	return k.expectBackup(ctx, r, velerov1.BackupPhaseCompleted, 0)
}

// expectUpToDataPath, where no data path runs (no kubelet): everything up to it is judged, the
// DataUpload Accepted, then Prepared (its backupPod Running, D3), then InProgress, the backupPVC
// provisioned through the expected class; the outcome is only reported, never passed on. A
// Completed DataUpload here is a finding: nothing ran that could have moved data. The Backup must
// follow the DataUpload's outcome (E1, E2).
func (k *Checker) expectUpToDataPath(ctx context.Context, sc Scenario, r *Result) error {
	du, err := k.dataUploadEnd(ctx, r)
	if err != nil {
		return err
	}
	phases := k.Obs.Phases(r.DataUpload)
	if !inOrder(phases, velerov2alpha1.DataUploadPhaseAccepted, velerov2alpha1.DataUploadPhasePrepared, velerov2alpha1.DataUploadPhaseInProgress) {
		return fmt.Errorf("DataUpload %s went through %v, want Accepted, Prepared, InProgress in that order\n%s", du.Name, phases, k.describe(ctx, r))
	}
	if err := k.expectProvisionedThrough(ctx, sc, r); err != nil {
		return err
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("data path not exercised (no kubelet runs the backupPod on this lane): judged up to InProgress; DataUpload phases %v", phases))
	switch du.Status.Phase {
	case velerov2alpha1.DataUploadPhaseCompleted:
		term := ""
		if pod, ok := k.Obs.Pod(r.DataUpload); ok && len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].State.Terminated != nil {
			term = pod.Status.ContainerStatuses[0].State.Terminated.Message
		}
		r.Findings = append(r.Findings, fmt.Sprintf("DataUpload %s Completed (snapshotID %q, %d bytes) although no data mover ran: its backupPod was ended by the lane's simulated kubelet with the termination message %q",
			du.Name, du.Status.SnapshotID, du.Status.Progress.TotalBytes, term))
		return k.expectBackup(ctx, r, velerov1.BackupPhaseCompleted, 0)
	default:
		r.Evidence = append(r.Evidence, fmt.Sprintf("DataUpload ended %s %q", du.Status.Phase, du.Status.Message))
		return k.expectBackup(ctx, r, velerov1.BackupPhasePartiallyFailed, 1)
	}
}

// inOrder says whether want appear in seen in that order (other phases may come between).
func inOrder(seen []velerov2alpha1.DataUploadPhase, want ...velerov2alpha1.DataUploadPhase) bool {
	i := 0
	for _, p := range seen {
		if i < len(want) && p == want[i] {
			i++
		}
	}
	return i == len(want)
}

// expectWriteProbe reads the data mover's report, from the backupPod's termination message (the
// harness's data mover) or from the probe run in the backupPod: its write into a read-only
// backupPVC must fail with EROFS, into a writable one succeed.
func (k *Checker) expectWriteProbe(ctx context.Context, sc Scenario, r *Result) error {
	message := r.Probe
	if message == "" {
		if err := k.waitFor(ctx, r, "the backupPod's termination message", 10*time.Second, func(context.Context) (bool, error) {
			pod, ok := k.Obs.Pod(r.DataUpload)
			if !ok || len(pod.Status.ContainerStatuses) == 0 || pod.Status.ContainerStatuses[0].State.Terminated == nil {
				return false, nil
			}
			message = pod.Status.ContainerStatuses[0].State.Terminated.Message
			return true, nil
		}); err != nil {
			return err
		}
	}
	rep, err := moverreport.Parse(message)
	if err != nil {
		return fmt.Errorf("backupPod %s: %w", r.DataUpload, err)
	}
	if r.Filled != nil && (rep.Bytes != r.Filled.Bytes || rep.SHA256 != r.Filled.SHA256) {
		return fmt.Errorf("backupPod %s read %d bytes (sha256 %s) from its backupPVC, the source volume had %d (sha256 %s) when it was snapshotted",
			r.DataUpload, rep.Bytes, rep.SHA256, r.Filled.Bytes, r.Filled.SHA256)
	}
	if sc.WantMode == corev1.ReadOnlyMany {
		if rep.Write != "failed" || !strings.Contains(rep.WriteError, "read-only file system") {
			return fmt.Errorf("backupPod %s wrote into its read-only backupPVC: write %s %q, want a read-only file system error", r.DataUpload, rep.Write, rep.WriteError)
		}
		r.Evidence = append(r.Evidence, fmt.Sprintf("the backupPod read the source's %d bytes (sha256 %.12s); its write was refused: %s", rep.Bytes, rep.SHA256, rep.WriteError))
		return nil
	}
	if rep.Write != "ok" {
		return fmt.Errorf("backupPod %s could not write into its writable backupPVC: write %s %q", r.DataUpload, rep.Write, rep.WriteError)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("the backupPod read the source's %d bytes (sha256 %.12s) and its write succeeded", rep.Bytes, rep.SHA256))
	return nil
}

func (k *Checker) expectBackup(ctx context.Context, r *Result, phase velerov1.BackupPhase, errs int) error {
	b := &velerov1.Backup{}
	// Velero finalizes backups one at a time: with 20 ending at once the last waits minutes.
	if err := k.waitFor(ctx, r, "the Backup to end "+string(phase), 3*time.Minute, func(ctx context.Context) (bool, error) {
		return k.c().Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.Backup}, b) == nil &&
			(b.Status.Phase == velerov1.BackupPhaseCompleted || b.Status.Phase == velerov1.BackupPhasePartiallyFailed || b.Status.Phase == velerov1.BackupPhaseFailed), nil
	}); err != nil {
		return err
	}
	if b.Status.Phase != phase || b.Status.Errors != errs {
		return fmt.Errorf("Backup %s ended %s with %d errors, want %s with %d", b.Name, b.Status.Phase, b.Status.Errors, phase, errs)
	}
	if b.Status.CompletionTimestamp == nil {
		return fmt.Errorf("Backup %s ended %s with no completionTimestamp (E2)", b.Name, b.Status.Phase)
	}
	return nil
}

// expectNothingLeft: every object of this DataUpload's expose goes (D6).
func (k *Checker) expectNothingLeft(ctx context.Context, r *Result) error {
	var left []string
	err := wait.PollUntilContextTimeout(ctx, waitStep, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		// A list cut short by the deadline keeps the last one's finding.
		now, err := Leftovers(ctx, k.c(), k.Shared.VeleroNS, r.DataUpload)
		if err == nil {
			left = now
		}
		return err == nil && len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("left behind after DataUpload %s ended: %v", r.DataUpload, left)
	}
	return k.expectCleanupOrder(ctx, r)
}

// expectCleanupOrder: the backupPod deleted before the backupPVC, the backupPVC and its PV gone
// before the backupVS was deleted (D6), by the revisions the Observer saw them deleted at. Its
// watches may lag the API a moment: it waits a little for all of them.
func (k *Checker) expectCleanupOrder(ctx context.Context, r *Result) error {
	var problems []string
	var judged bool
	_ = wait.PollUntilContextTimeout(ctx, waitStep, 5*time.Second, true, func(context.Context) (bool, error) {
		problems, judged = k.Obs.CleanupOrder(r.DataUpload)
		return judged, nil
	})
	if len(problems) > 0 {
		return fmt.Errorf("DataUpload %s: cleanup out of D6's order: %s", r.DataUpload, strings.Join(problems, "; "))
	}
	if judged {
		r.Evidence = append(r.Evidence, "cleanup in D6's order (backupPod, backupPVC and PV gone, then backupVS, by the deletions' revisions)")
	}
	return nil
}

func finalDU(du *velerov2alpha1.DataUpload) bool {
	switch du.Status.Phase {
	case velerov2alpha1.DataUploadPhaseCompleted, velerov2alpha1.DataUploadPhaseFailed, velerov2alpha1.DataUploadPhaseCanceled:
		return true
	}
	return false
}

// describe summarizes one backup's objects for a failure message.
func (k *Checker) describe(ctx context.Context, r *Result) string {
	c := k.c()
	var b strings.Builder
	bk := &velerov1.Backup{}
	if c.Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.Backup}, bk) == nil {
		fmt.Fprintf(&b, "Backup %s: phase %s errors %d warnings %d", bk.Name, bk.Status.Phase, bk.Status.Errors, bk.Status.Warnings)
		if bk.Status.FailureReason != "" {
			fmt.Fprintf(&b, " failureReason %q", bk.Status.FailureReason)
		}
		if len(bk.Status.ValidationErrors) > 0 {
			fmt.Fprintf(&b, " validationErrors %q", bk.Status.ValidationErrors)
		}
		b.WriteString("\n")
	}
	if r.DataUpload != "" {
		du := &velerov2alpha1.DataUpload{}
		if c.Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}, du) == nil {
			fmt.Fprintf(&b, "DataUpload %s: phase %s message %q\n", du.Name, du.Status.Phase, du.Status.Message)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if c.Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}, pvc) == nil {
			fmt.Fprintf(&b, "backupPVC: phase %s class %s modes %v\n", pvc.Status.Phase, ptr.Deref(pvc.Spec.StorageClassName, ""), pvc.Spec.AccessModes)
		}
		pod := &corev1.Pod{}
		if c.Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}, pod) == nil {
			fmt.Fprintf(&b, "backupPod: phase %s node %q\n", pod.Status.Phase, pod.Spec.NodeName)
		}
		for _, w := range k.Obs.Warnings(r.DataUpload) {
			fmt.Fprintf(&b, "backupPVC warning: %s\n", w)
		}
	}
	if k.Logs != nil {
		names := []string{r.Backup}
		if r.DataUpload != "" {
			names = append(names, r.DataUpload)
		}
		for _, line := range complaints(k.Logs(), names, 5) {
			fmt.Fprintf(&b, "the system under test logged: %s\n", line)
		}
	}
	return b.String()
}

// complaints are the last n lines of the log files that mention one of names and read as an
// error or a warning: where a system under test says why a backup did not go on.
func complaints(files, names []string, n int) []string {
	var out []string
	for _, f := range files {
		for _, line := range strings.Split(grepFile(f, names), "\n") {
			low := strings.ToLower(line)
			if strings.Contains(low, "error") || strings.Contains(low, "warn") || strings.Contains(low, "fail") {
				out = append(out, line)
			}
		}
	}
	return out[max(0, len(out)-n):]
}

// fillBytes is how much known data fill writes into a source volume.
const fillBytes = 4 << 20

// fill runs the data mover image in a pod that writes known data into the source PVC and waits for
// its report, so the write-probe specs can check the backupPod read exactly that data.
func (k *Checker) fill(ctx context.Context, tr *Tracker, r *Result, pvc *corev1.PersistentVolumeClaim) error {
	rep, err := k.runMover(ctx, tr, r, pvc.Namespace, "fill", pvc.Name, false,
		"/velero", "fill", "--path="+moverPath, fmt.Sprintf("--bytes=%d", fillBytes), "--seed="+r.Backup)
	if err != nil {
		return err
	}
	r.Filled = rep
	return nil
}

// moverPath is where runMover mounts the volume.
const moverPath = "/data"

// runMover runs the harness's data mover image (command) in pod name of namespace ns with claim
// mounted at moverPath, waits for it to exit and returns its report.
func (k *Checker) runMover(ctx context.Context, tr *Tracker, r *Result, ns, name, claim string, readOnly bool, command ...string) (*moverreport.Report, error) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels()},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Containers: []corev1.Container{{Name: name, Image: k.Shared.MoverImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: command, VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: moverPath}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}}}}}}
	c := k.c()
	if err := tr.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("%s pod: %w", name, err)
	}
	// The container's own exit, not the pod's phase, which a kubelet reports only after teardown.
	var term *corev1.ContainerStateTerminated
	if err := k.waitFor(ctx, r, "the "+name+" pod to exit", k.Profile.Timeouts.Provision.Duration, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil || len(pod.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		term = pod.Status.ContainerStatuses[0].State.Terminated
		return term != nil, nil
	}); err != nil {
		if len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].State.Waiting != nil {
			w := pod.Status.ContainerStatuses[0].State.Waiting
			return nil, fmt.Errorf("%w\n%s pod: its container is waiting: %s %s (image %s)", err, name, w.Reason, w.Message, k.Shared.MoverImage)
		}
		return nil, err
	}
	if term.ExitCode != 0 {
		return nil, fmt.Errorf("%s pod exited %d: %s", name, term.ExitCode, term.Message)
	}
	rep, err := moverreport.Parse(term.Message)
	if err != nil {
		return nil, fmt.Errorf("%s pod: %w", name, err)
	}
	return rep, nil
}
