package lane

import (
	"context"
	"errors"
	"fmt"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/modsrc"
)

// InstallCRDs applies the snapshot and Velero CRDs from their pinned modules and waits until the
// API server serves them.
func InstallCRDs(cfg *rest.Config) error {
	paths, err := modsrc.CRDPaths()
	if err != nil {
		return err
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true, MaxTime: time.Minute}); err != nil {
		return fmt.Errorf("lane: install CRDs: %w", err)
	}
	return nil
}

func managed() map[string]string { return ManagedLabels(nil) }

// Prepare makes a CSIDriver object for each of drivers (the instances the lane runs) and the
// profile's classes: those marked create are created (labelled as the harness's), the others must
// exist already. It returns what it created, for Unprepare.
func Prepare(ctx context.Context, c client.Client, p *profile.Profile, drivers []string) ([]client.Object, error) {
	var created []client.Object
	create := func(o client.Object) error {
		err := c.Create(ctx, o)
		if err == nil {
			created = append(created, o)
			return nil
		}
		if apierrors.IsAlreadyExists(err) {
			existing := o.DeepCopyObject().(client.Object)
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), existing); err != nil {
				return err
			}
			if existing.GetLabels()[ManagedByLabel] == ManagedByValue {
				return nil // left by an earlier run of ours
			}
			return fmt.Errorf("lane: %T %s exists and was not made by this harness: give the profile another name or create: false", o, o.GetName())
		}
		return err
	}
	// Every driver instance the lane runs gets its CSIDriver object, ours or not. attachRequired
	// false: none of them is deployed with an external-attacher (the emulator has no
	// ControllerPublish; csi-driver-host-path has it only with --enable-attach), so a required
	// attach would leave every pod waiting for a VolumeAttachment nobody handles.
	for _, d := range drivers {
		if err := create(&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: d, Labels: managed()}, Spec: storagev1.CSIDriverSpec{
			AttachRequired: ptr.To(false), PodInfoOnMount: ptr.To(false),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}}}); err != nil {
			return created, fmt.Errorf("lane: CSIDriver %s: %w", d, err)
		}
	}
	var missing []error
	for _, sc := range p.StorageClasses {
		if !sc.Create {
			if err := c.Get(ctx, client.ObjectKey{Name: sc.Name}, &storagev1.StorageClass{}); err != nil {
				missing = append(missing, fmt.Errorf("storage class %s (role %s) of profile %s: %w", sc.Name, sc.Role, p.Name, err))
			}
			continue
		}
		obj := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc.Name, Labels: managed()},
			Provisioner: sc.Provisioner, Parameters: sc.Parameters,
			ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
		if err := create(obj); err != nil {
			return created, fmt.Errorf("lane: storage class %s: %w", sc.Name, err)
		}
	}
	if !p.SnapshotClass.Create {
		if err := c.Get(ctx, client.ObjectKey{Name: p.SnapshotClass.Name}, &snapshotv1.VolumeSnapshotClass{}); err != nil {
			missing = append(missing, fmt.Errorf("volume snapshot class %s of profile %s: %w", p.SnapshotClass.Name, p.Name, err))
		}
	} else {
		if err := waitOutCreateHold(ctx, c, volumeSnapshotClassCRD); err != nil {
			return created, err
		}
		labels := managed()
		labels[velerov1.VolumeSnapshotClassSelectorLabel] = "true"
		if err := create(&snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: p.SnapshotClass.Name, Labels: labels},
			Driver: p.Driver, Parameters: p.SnapshotClass.Parameters,
			DeletionPolicy: snapshotv1.DeletionPolicy(p.SnapshotClass.DeletionPolicy)}); err != nil {
			return created, fmt.Errorf("lane: volume snapshot class %s: %w", p.SnapshotClass.Name, err)
		}
	}
	return created, errors.Join(missing...)
}

// volumeSnapshotClassCRD is the CRD of the one kind of object Prepare makes that is not built in.
const volumeSnapshotClassCRD = "volumesnapshotclasses.snapshot.storage.k8s.io"

// crdCreateHold: in a CRD's first 2 s Established, the API server holds every create of its
// objects for 2 s (apiextensions-apiserver's crdHandler: in HA another API server may not have
// seen the CRD yet). On a lane that installed the CRD a moment ago the VolumeSnapshotClass's create
// took 2.0 s in half the bring-ups measured; waiting out the rest of those 2 s first costs less.
const crdCreateHold = 2 * time.Second

// waitOutCreateHold returns once the CRD named crd has been Established for crdCreateHold: at
// once on a cluster whose CRDs are older, or when the CRD cannot be read (the create is then only
// slower, if at all).
func waitOutCreateHold(ctx context.Context, c client.Client, crd string) error {
	obj := &apiextv1.CustomResourceDefinition{}
	if err := c.Get(ctx, client.ObjectKey{Name: crd}, obj); err != nil {
		return nil
	}
	for _, cond := range obj.Status.Conditions {
		if cond.Type != apiextv1.Established || cond.Status != apiextv1.ConditionTrue {
			continue
		}
		left := time.Until(cond.LastTransitionTime.Add(crdCreateHold))
		if left <= 0 {
			return nil
		}
		t := time.NewTimer(left)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("lane: waiting for CRD %s to take creates: %w", crd, ctx.Err())
		}
	}
	return nil
}

// Unprepare deletes what Prepare created.
func Unprepare(ctx context.Context, c client.Client, created []client.Object) error {
	var errs []error
	for _, o := range created {
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
