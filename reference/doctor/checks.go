package doctor

import (
	"context"
	"fmt"
	"maps"
	"slices"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/snapclass"
	"github.com/backuppvc-conformance/harness/reference/config"
)

// The snapshot class selector Velero v1.18.3 uses (pkg/util/csi.GetVolumeSnapshotClassForStorageClass).
const (
	SnapshotClassLabel             = velerov1.VolumeSnapshotClassSelectorLabel        // velero.io/csi-volumesnapshot-class
	DefaultSnapshotClassAnnotation = velerov1.VolumeSnapshotClassKubernetesAnnotation // snapshot.storage.kubernetes.io/is-default-class
)

// cluster is what the static checks read from the cluster, once.
type cluster struct {
	classes     map[string]storagev1.StorageClass
	snapClasses []snapshotv1.VolumeSnapshotClass
	// snapErr is set when VolumeSnapshotClasses could not be listed; snapNotServed when the API
	// is not served at all.
	snapErr       error
	snapNotServed bool
	pvcClasses    map[string]int
	pvcErr        error
}

func readCluster(ctx context.Context, c client.Reader, veleroNS string) (*cluster, error) {
	cl := &cluster{classes: map[string]storagev1.StorageClass{}, pvcClasses: map[string]int{}}
	scs := &storagev1.StorageClassList{}
	if err := c.List(ctx, scs); err != nil {
		return nil, fmt.Errorf("cannot list storage classes: %w", err)
	}
	for _, sc := range scs.Items {
		cl.classes[sc.Name] = sc
	}
	vscs := &snapshotv1.VolumeSnapshotClassList{}
	if err := c.List(ctx, vscs); err != nil {
		cl.snapErr, cl.snapNotServed = err, meta.IsNoMatchError(err)
	} else {
		cl.snapClasses = vscs.Items
	}
	pvcs := &corev1.PersistentVolumeClaimList{}
	if err := c.List(ctx, pvcs); err != nil {
		cl.pvcErr = err
	} else {
		for _, p := range pvcs.Items {
			// The Velero namespace's PVCs are its own backupPVCs (and the like), a doctor's are
			// its probes: neither is a workload a backup would take.
			if p.Namespace == veleroNS || p.Labels[LabelManagedBy] == ManagedByDoctor {
				continue
			}
			if p.Spec.StorageClassName != nil && *p.Spec.StorageClassName != "" {
				cl.pvcClasses[*p.Spec.StorageClassName]++
			}
		}
	}
	return cl, nil
}

// checkEntries runs the static checks of every backupPVC entry, in source class order, and the
// informational ones.
func checkEntries(cfg *config.NodeAgentConfigs, cl *cluster, d Discovery, p *profile.Profile, r *Report) {
	for _, src := range slices.Sorted(maps.Keys(cfg.BackupPVCConfig)) {
		r.Entries = append(r.Entries, checkEntry(src, cfg.BackupPVCConfig[src], cl, d, p))
	}
	if cl.pvcErr != nil {
		r.note("cannot list PVCs (%v): which entries apply to no PVC, and which PVC classes have no entry, was not checked", cl.pvcErr)
		return
	}
	r.UnusedEntries, r.ClassesWithoutEntry = []string{}, []ClassUse{}
	for _, e := range r.Entries {
		if cl.pvcClasses[e.SourceClass] == 0 {
			r.UnusedEntries = append(r.UnusedEntries, e.SourceClass)
		}
	}
	for _, class := range slices.Sorted(maps.Keys(cl.pvcClasses)) {
		if _, ok := cfg.BackupPVCConfig[class]; !ok {
			r.ClassesWithoutEntry = append(r.ClassesWithoutEntry, ClassUse{Class: class, PVCs: cl.pvcClasses[class]})
		}
	}
}

func checkEntry(src string, bp config.BackupPVC, cl *cluster, d Discovery, p *profile.Profile) Entry {
	e := Entry{SourceClass: src, BackupPVCClass: bp.StorageClass, ReadOnly: bp.ReadOnly, AccessMode: corev1.ReadWriteOnce, annotations: bp.Annotations}
	if e.BackupPVCClass == "" {
		e.BackupPVCClass = src // spec B3
	}
	if bp.ReadOnly {
		e.AccessMode = corev1.ReadOnlyMany // spec B4
	}
	add := func(name string, st Status, format string, args ...any) {
		e.Checks = append(e.Checks, Check{Name: name, Status: st, Message: fmt.Sprintf(format, args...)})
	}
	source, haveSource := cl.classes[src]
	target, haveTarget := cl.classes[e.BackupPVCClass]
	if haveSource {
		e.Driver = source.Provisioner
		add(CheckSourceClass, StatusOK, "storage class %s exists (provisioner %s)", src, source.Provisioner)
	} else {
		add(CheckSourceClass, StatusWarning, "no storage class %s: the entry applies to no PVC (Velero looks entries up by the source PVC's class name, exact match)", src)
	}
	switch {
	case !haveTarget:
		add(CheckBackupPVCClass, StatusFail, "no storage class %s: the backupPVC would stay Pending (storageclass.storage.k8s.io %q not found)", e.BackupPVCClass, e.BackupPVCClass)
	case bp.StorageClass == "":
		add(CheckBackupPVCClass, StatusOK, "the source class (the entry names no storageClass)")
	default:
		add(CheckBackupPVCClass, StatusOK, "storage class %s exists (provisioner %s)", e.BackupPVCClass, target.Provisioner)
	}
	switch {
	case !haveSource || !haveTarget:
		add(CheckProvisioner, StatusSkipped, "needs both classes")
	case source.Provisioner != target.Provisioner:
		add(CheckProvisioner, StatusFail, "the backupPVC's class is provisioned by %s, the source class by %s: a snapshot of one CSI driver's volume cannot be restored by another's",
			target.Provisioner, source.Provisioner)
	default:
		add(CheckProvisioner, StatusOK, "both classes are provisioned by %s", source.Provisioner)
	}
	switch {
	case !haveSource:
		add(CheckSnapshotClass, StatusSkipped, "needs the source class")
	case cl.snapNotServed:
		add(CheckSnapshotClass, StatusFail, "the cluster does not serve snapshot.storage.k8s.io/v1 VolumeSnapshotClasses: Velero cannot snapshot the volume (install the external-snapshotter CRDs and snapshot-controller)")
	case cl.snapErr != nil:
		add(CheckSnapshotClass, StatusUnknown, "cannot list VolumeSnapshotClasses: %v", cl.snapErr)
	default:
		name, how, err := snapclass.Select(source.Provisioner, cl.snapClasses)
		if err != nil {
			add(CheckSnapshotClass, StatusFail, "%v", err)
		} else {
			e.SnapshotClass = name
			add(CheckSnapshotClass, StatusOK, "%s (%s)", name, how)
		}
	}
	if bp.ReadOnly {
		st, msg := readOnlyCheck(e.BackupPVCClass, target, haveTarget, p)
		add(CheckReadOnly, st, "%s", msg)
	}
	e.wffc = bindsOnConsumer(source, haveSource) || bindsOnConsumer(target, haveTarget)
	e.Verdict, e.Summary = staticVerdict(&e, d)
	return e
}

func bindsOnConsumer(sc storagev1.StorageClass, ok bool) bool {
	return ok && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

// readOnlyCheck says what the driver profile says about ReadOnlyMany from a snapshot in class.
func readOnlyCheck(class string, sc storagev1.StorageClass, exists bool, p *profile.Profile) (Status, string) {
	if p == nil {
		return StatusSkipped, fmt.Sprintf("no --profile: only --probe can tell whether %s provisions ReadOnlyMany from a snapshot", class)
	}
	var inProfile *profile.StorageClass
	for i := range p.StorageClasses {
		if p.StorageClasses[i].Name == class {
			inProfile = &p.StorageClasses[i]
		}
	}
	driver := sc.Provisioner
	if !exists && inProfile != nil {
		driver = inProfile.Provisioner
	}
	switch {
	case inProfile != nil && inProfile.Role == profile.RoleRefusesReadOnly:
		return StatusFail, fmt.Sprintf("profile %s: class %s (role %s) cannot make ReadOnlyMany volumes from snapshots", p.Name, class, inProfile.Role)
	case driver == p.Driver && !p.Capabilities.ReadOnlyManyFromSnapshot:
		return StatusFail, fmt.Sprintf("profile %s: driver %s cannot make ReadOnlyMany volumes from snapshots (capabilities.readOnlyManyFromSnapshot: false)", p.Name, p.Driver)
	case inProfile != nil && inProfile.Role == profile.RoleBackup && driver == p.Driver:
		return StatusOK, fmt.Sprintf("profile %s: class %s (role backup) makes ReadOnlyMany volumes from snapshots", p.Name, class)
	case driver != "" && driver != p.Driver:
		return StatusSkipped, fmt.Sprintf("profile %s is for driver %s, class %s is provisioned by %s", p.Name, p.Driver, class, driver)
	}
	return StatusSkipped, fmt.Sprintf("profile %s says nothing about ReadOnlyMany from snapshots in class %s (only its backup and refusesReadOnly classes)", p.Name, class)
}

// staticVerdict decides from the checks alone: a missing source class means the entry never
// applies; no snapshot class fails the backup before any DataUpload; a missing or foreign
// backupPVC class, or a read-only entry the profile says the class cannot do, stalls it.
func staticVerdict(e *Entry, d Discovery) (Verdict, string) {
	failed := map[string]string{}
	unknown := ""
	for _, c := range e.Checks {
		switch c.Status {
		case StatusFail:
			failed[c.Name] = c.Message
		case StatusUnknown:
			unknown = c.Message
		}
	}
	switch {
	case e.Driver == "" && hasStatus(e, CheckSourceClass, StatusWarning):
		return VerdictNeverApplies, fmt.Sprintf("no storage class %s exists, so no PVC's class matches the entry", e.SourceClass)
	case failed[CheckSnapshotClass] != "":
		return VerdictFails, failsSummary(e, "Velero finds no VolumeSnapshotClass for driver "+e.Driver)
	}
	for _, name := range []string{CheckBackupPVCClass, CheckProvisioner, CheckReadOnly} {
		if msg := failed[name]; msg != "" {
			return VerdictStalls, stallSummary(e, d, msg)
		}
	}
	if unknown != "" {
		return VerdictUnknown, unknown
	}
	return VerdictFine, fmt.Sprintf("the backupPVC would be a %s PVC of class %s", e.AccessMode, e.BackupPVCClass)
}

func hasStatus(e *Entry, check string, st Status) bool {
	for _, c := range e.Checks {
		if c.Name == check && c.Status == st {
			return true
		}
	}
	return false
}

func stallSummary(e *Entry, d Discovery, why string) string {
	return fmt.Sprintf("a backup of a PVC of class %s would wait %s in Accepted and end PartiallyFailed (DataUpload Failed: timeout on preparing data upload): %s",
		e.SourceClass, d.PrepareTimeout.Duration, why)
}

func failsSummary(e *Entry, why string) string {
	return fmt.Sprintf("a backup of a PVC of class %s would end PartiallyFailed without a DataUpload for it: %s", e.SourceClass, why)
}
