package doctor

import (
	"context"
	"fmt"
	"slices"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// provisionerSnapshotFinalizer is csi-provisioner's (v5.3+) protection of a snapshot a PVC is
// being provisioned from. After a refused provisioning it stays until the provisioner's orphan
// sweep (every 5 minutes by default, --snapshot-orphan-sweep-interval).
const provisionerSnapshotFinalizer = "provisioner.storage.kubernetes.io/volumesnapshot-as-source-protection"

// cleanup removes the probe namespace ns and everything in it, in the reverse order of creation
// (the backupPVC, the snapshot, the source PVC), and makes sure the cluster-scoped objects behind
// them go too: their PersistentVolumes' reclaim policy and their VolumeSnapshotContents' deletion
// policy are set to Delete first (as Velero's cleanup does for its backupPV), and those objects
// are waited for. A namespace that is not this run's (it existed before) is not touched. It
// returns what is still there when ctx ends.
func (p *prober) cleanup(ctx context.Context, ns string) []string {
	nsObj := &corev1.Namespace{}
	if err := p.c.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return []string{fmt.Sprintf("namespace %s (cannot read it: %v)", ns, err)}
	}
	if nsObj.Labels[LabelRun] != p.run {
		return nil
	}
	pvcs := &corev1.PersistentVolumeClaimList{}
	vss := &snapshotv1.VolumeSnapshotList{}
	_ = p.c.List(ctx, pvcs, client.InNamespace(ns))
	_ = p.c.List(ctx, vss, client.InNamespace(ns))
	claims, snaps := sets.New[types.UID](), sets.New[types.UID]()
	for _, c := range pvcs.Items {
		claims.Insert(c.UID)
	}
	for _, s := range vss.Items {
		snaps.Insert(s.UID)
	}
	pvs, contents := p.release(ctx, claims, snaps)

	// The backupPVCs (from a snapshot) first, then the snapshots, then the sources.
	fromSnapshot := func(c corev1.PersistentVolumeClaim) bool {
		return c.Spec.DataSource != nil && c.Spec.DataSource.Kind == "VolumeSnapshot"
	}
	for _, c := range pvcs.Items {
		if fromSnapshot(c) {
			p.deleteAndWait(ctx, &c, nil)
		}
	}
	for _, s := range vss.Items {
		p.deleteAndWait(ctx, &s, func(ctx context.Context) { p.releaseSnapshot(ctx, client.ObjectKeyFromObject(&s)) })
	}
	for _, c := range pvcs.Items {
		if !fromSnapshot(c) {
			p.deleteAndWait(ctx, &c, nil)
		}
	}
	// Volumes provisioned while the claims were being deleted.
	morePVs, moreContents := p.release(ctx, claims, snaps)
	pvs, contents = append(pvs, morePVs...), append(contents, moreContents...)
	p.deleteAndWait(ctx, nsObj, nil)

	var left []string
	if err := p.c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		left = append(left, "namespace "+ns)
	}
	// A content whose snapshot is gone is deleted by snapshot-controller (deletion policy
	// Delete); give it a moment, then delete it ourselves.
	for _, name := range slices.Compact(slices.Sorted(slices.Values(contents))) {
		vsc := &snapshotv1.VolumeSnapshotContent{}
		if p.waitGone(ctx, client.ObjectKey{Name: name}, vsc, 5*time.Second) {
			continue
		}
		if snaps.Has(vsc.Spec.VolumeSnapshotRef.UID) {
			p.deleteAndWait(ctx, vsc, nil)
		}
		if err := p.c.Get(ctx, client.ObjectKey{Name: name}, vsc); !apierrors.IsNotFound(err) {
			left = append(left, "VolumeSnapshotContent "+name)
		}
	}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(pvs))) {
		pv := &corev1.PersistentVolume{}
		if !p.waitGone(ctx, client.ObjectKey{Name: name}, pv, 0) {
			left = append(left, fmt.Sprintf("PersistentVolume %s (%s)", name, pv.Status.Phase))
		}
	}
	return left
}

// release sets Delete as the reclaim policy of the PersistentVolumes bound to the claims and the
// deletion policy of the VolumeSnapshotContents bound to the snapshots, labels them as the run's,
// and returns their names.
func (p *prober) release(ctx context.Context, claims, snaps sets.Set[types.UID]) (pvs, contents []string) {
	pvList := &corev1.PersistentVolumeList{}
	if err := p.c.List(ctx, pvList); err == nil {
		for _, pv := range pvList.Items {
			if pv.Spec.ClaimRef == nil || !claims.Has(pv.Spec.ClaimRef.UID) {
				continue
			}
			pvs = append(pvs, pv.Name)
			if pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete && pv.Labels[LabelRun] == p.run {
				continue
			}
			patch := client.MergeFrom(pv.DeepCopy())
			pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
			pv.Labels = withLabels(pv.Labels, p.labels)
			if err := p.c.Patch(ctx, &pv, patch); err != nil && !apierrors.IsNotFound(err) {
				p.say("cannot set PersistentVolume %s's reclaim policy to Delete: %v", pv.Name, err)
			}
		}
	}
	vscList := &snapshotv1.VolumeSnapshotContentList{}
	if err := p.c.List(ctx, vscList); err == nil {
		for _, vsc := range vscList.Items {
			if !snaps.Has(vsc.Spec.VolumeSnapshotRef.UID) {
				continue
			}
			contents = append(contents, vsc.Name)
			if vsc.Spec.DeletionPolicy == snapshotv1.VolumeSnapshotContentDelete && vsc.Labels[LabelRun] == p.run {
				continue
			}
			patch := client.MergeFrom(vsc.DeepCopy())
			vsc.Spec.DeletionPolicy = snapshotv1.VolumeSnapshotContentDelete
			vsc.Labels = withLabels(vsc.Labels, p.labels)
			if err := p.c.Patch(ctx, &vsc, patch); err != nil && !apierrors.IsNotFound(err) {
				p.say("cannot set VolumeSnapshotContent %s's deletion policy to Delete: %v", vsc.Name, err)
			}
		}
	}
	return pvs, contents
}

func withLabels(have, add map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range have {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	return out
}

// releaseSnapshot removes csi-provisioner's source-protection finalizer from the probe's
// snapshot being deleted once no PVC in its namespace is provisioned from it any more: what the
// provisioner's orphan sweep does, minutes later.
func (p *prober) releaseSnapshot(ctx context.Context, key client.ObjectKey) {
	vs := &snapshotv1.VolumeSnapshot{}
	if err := p.c.Get(ctx, key, vs); err != nil || vs.DeletionTimestamp == nil || !slices.Contains(vs.Finalizers, provisionerSnapshotFinalizer) {
		return
	}
	pvcs := &corev1.PersistentVolumeClaimList{}
	if err := p.c.List(ctx, pvcs, client.InNamespace(key.Namespace)); err != nil {
		return
	}
	for _, c := range pvcs.Items {
		if ds := c.Spec.DataSource; ds != nil && ds.Kind == "VolumeSnapshot" && ds.Name == key.Name {
			return
		}
	}
	vs.Finalizers = slices.DeleteFunc(vs.Finalizers, func(f string) bool { return f == provisionerSnapshotFinalizer })
	if err := p.c.Update(ctx, vs); err == nil {
		p.say("removed csi-provisioner's finalizer %s from the probe's VolumeSnapshot %s (no PVC is provisioned from it any more; the provisioner's own sweep runs every 5 minutes by default)",
			provisionerSnapshotFinalizer, key)
	}
}

// deleteAndWait deletes obj (only the object of obj's UID) and waits until it is gone or ctx
// ends, calling assist on every look.
func (p *prober) deleteAndWait(ctx context.Context, obj client.Object, assist func(context.Context)) {
	uid := obj.GetUID()
	var opts []client.DeleteOption
	if uid != "" {
		opts = append(opts, client.Preconditions{UID: &uid})
	}
	if err := p.c.Delete(ctx, obj, opts...); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return // gone, or another object of that name: not ours
		}
		p.say("cannot delete %T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
		return
	}
	fresh := obj.DeepCopyObject().(client.Object)
	_ = wait.PollUntilContextCancel(ctx, p.o.Poll, true, func(ctx context.Context) (bool, error) {
		err := p.c.Get(ctx, client.ObjectKeyFromObject(obj), fresh)
		if apierrors.IsNotFound(err) || (err == nil && fresh.GetUID() != uid && uid != "") {
			return true, nil
		}
		if assist != nil {
			assist(ctx)
		}
		return false, nil
	})
}

// waitGone waits up to timeout (0: until ctx ends) for the object key to be gone; obj holds its
// last state when it is not.
func (p *prober) waitGone(ctx context.Context, key client.ObjectKey, obj client.Object, timeout time.Duration) bool {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := wait.PollUntilContextCancel(ctx, p.o.Poll, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(p.c.Get(ctx, key, obj)), nil
	})
	return err == nil
}
