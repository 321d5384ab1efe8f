package doctor

import (
	"context"
	"encoding/json"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

const (
	driverA = "a.csi.example.com"
	driverB = "b.csi.example.com"
)

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// nodeAgent is Velero's node-agent DaemonSet as velero install writes it, with command and args.
func nodeAgent(command []string, args ...string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "node-agent"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "node-agent", Image: "velero/velero:v1.18.3", Command: command, Args: args}}}}}}
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: name}, Data: data}
}

// backupPVCConfig is a node-agent ConfigMap holding entries, a JSON document per entry.
func backupPVCConfig(name string, entries map[string]any) *corev1.ConfigMap {
	doc, _ := json.Marshal(map[string]any{"backupPVC": entries})
	return configMap(name, map[string]string{"node-agent-config.json": string(doc)})
}

func class(name, provisioner string) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
}

func snapClass(name, driver string, labels, annotations map[string]string) *snapshotv1.VolumeSnapshotClass {
	return &snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Driver: driver, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete}
}

func pvcOf(namespace, name, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class)}}
}

var veleroLabel = map[string]string{SnapshotClassLabel: "true"}

// cluster is a vendor's cluster: driver A's classes (source, backup, one refusing ReadOnlyMany),
// driver B's class, A's labelled snapshot class.
func baseObjects() []client.Object {
	return []client.Object{ns("velero"), class("src", driverA), class("backup", driverA), class("norox", driverA), class("other", driverB),
		snapClass("snap-a", driverA, veleroLabel, nil)}
}

func testProfile() *profile.Profile {
	return &profile.Profile{Name: "vendor", Driver: driverA, StorageClasses: []profile.StorageClass{
		{Name: "src", Role: profile.RoleSource, Provisioner: driverA}, {Name: "backup", Role: profile.RoleBackup, Provisioner: driverA},
		{Name: "norox", Role: profile.RoleRefusesReadOnly, Provisioner: driverA}, {Name: "other", Role: profile.RoleOtherDriver, Provisioner: driverB}},
		Capabilities: profile.Capabilities{ReadOnlyManyFromSnapshot: true}}
}

// fakeClient answers SelfSubjectAccessReviews: everything is allowed but the denied
// "verb resource[.group]" strings.
func fakeClient(t *testing.T, denied []string, objs ...client.Object) client.WithWatch {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if r, ok := obj.(*authv1.SelfSubjectAccessReview); ok {
				a := r.Spec.ResourceAttributes
				what := a.Verb + " " + a.Resource
				if a.Group != "" {
					what += "." + a.Group
				}
				r.Status.Allowed = true
				for _, d := range denied {
					if d == what {
						r.Status.Allowed = false
					}
				}
				return nil
			}
			return c.Create(ctx, obj, opts...)
		}}).Build()
}
