package exposer

import (
	"context"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/backuppvc-conformance/harness/reference/exposer/exposertest"
)

// fakeCluster is a fake API server (watching one object as the real one does) plus a stand-in for the one controller cleanup relies on: the
// snapshot-controller deleting a VolumeSnapshot's content when its deletionPolicy is Delete.
type fakeCluster struct{ client.WithWatch }

func newCluster(t *testing.T, objs ...client.Object) *fakeCluster {
	base := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build()
	return &fakeCluster{interceptor.NewClient(exposertest.WithAPIServerWatch(base), interceptor.Funcs{Delete: deleteSnapshotContent})}
}

// WithInterceptorFuncs layers a test's interceptors over the cluster.
func (f *fakeCluster) WithInterceptorFuncs(fn interceptor.Funcs) client.WithWatch {
	return interceptor.NewClient(f.WithWatch, fn)
}

func deleteSnapshotContent(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
	if vs, ok := o.(*snapshotv1.VolumeSnapshot); ok {
		cur := &snapshotv1.VolumeSnapshot{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(vs), cur); err == nil {
			name := cur.Spec.Source.VolumeSnapshotContentName
			if cur.Status != nil && cur.Status.BoundVolumeSnapshotContentName != nil {
				name = cur.Status.BoundVolumeSnapshotContentName
			}
			vsc := &snapshotv1.VolumeSnapshotContent{}
			if name != nil && c.Get(ctx, client.ObjectKey{Name: *name}, vsc) == nil && vsc.Spec.DeletionPolicy == snapshotv1.VolumeSnapshotContentDelete {
				_ = c.Delete(ctx, vsc)
			}
		}
	}
	return c.Delete(ctx, o, opts...)
}
