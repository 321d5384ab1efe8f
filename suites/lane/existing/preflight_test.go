package existing

import (
	"context"
	"strings"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakeclientset "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func testProfile() *profile.Profile {
	return &profile.Profile{Name: "vendor", Driver: "csi.example.com",
		StorageClasses: []profile.StorageClass{{Name: "fast", Role: "source"}, {Name: "ro", Role: "backup"}},
		SnapshotClass:  profile.SnapshotClass{Name: "snap"}}
}

func allServed() []*metav1.APIResourceList {
	var out []*metav1.APIResourceList
	for _, api := range servedAPIs {
		l := &metav1.APIResourceList{GroupVersion: api.groupVersion}
		for _, r := range api.resources {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: r})
		}
		out = append(out, l)
	}
	return out
}

func TestPreflight(t *testing.T) {
	class := func(name, provisioner string) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	}
	labelled := &snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: "snap", Labels: map[string]string{"velero.io/csi-volumesnapshot-class": "true"}},
		Driver: "csi.example.com", DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete}
	unlabelled := labelled.DeepCopy()
	unlabelled.Labels = nil
	defaultClass := unlabelled.DeepCopy()
	defaultClass.Annotations = map[string]string{"snapshot.storage.kubernetes.io/is-default-class": "true"}
	otherDriver := labelled.DeepCopy()
	otherDriver.Driver = "csi.other.com"
	good := []client.Object{class("fast", "csi.example.com"), class("ro", "csi.example.com"), labelled}
	tests := []struct {
		name    string
		objs    []client.Object
		served  []*metav1.APIResourceList
		denied  []string // resources the user may not use
		want    []string // one line each
		wantNil bool
	}{
		{name: "all there", objs: good, served: allServed(), wantNil: true},
		{name: "default snapshot class annotation", objs: []client.Object{good[0], good[1], defaultClass}, served: allServed(), wantNil: true},
		{name: "no Velero CRDs", objs: good, served: allServed()[2:], want: []string{
			"existing lane: velero.io/v1 backups, restores, backupstoragelocations not served: install Velero v1.18.3's CRDs",
			"existing lane: velero.io/v2alpha1 datauploads, datadownloads not served"}},
		{name: "snapshot class without Velero's label", objs: []client.Object{good[0], good[1], unlabelled}, served: allServed(),
			want: []string{"existing lane: volume snapshot class snap has neither the label velero.io/csi-volumesnapshot-class=true nor the default-class annotation"}},
		{name: "snapshot class of another driver", objs: []client.Object{good[0], good[1], otherDriver}, served: allServed(),
			want: []string{"volume snapshot class snap belongs to driver csi.other.com, not csi.example.com"}},
		{name: "class missing and class of another provisioner", objs: []client.Object{class("ro", "csi.other.com"), labelled}, served: allServed(),
			want: []string{"storage class fast (role source):", "create it, or set create: true in profile vendor",
				"storage class ro (role backup) is provisioned by csi.other.com, profile vendor says csi.example.com"}},
		{name: "user may not create PVCs or backups", objs: good, served: allServed(), denied: []string{"persistentvolumeclaims", "backups"},
			want: []string{"existing lane: the kubeconfig's user may not create persistentvolumeclaims, create backups.velero.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(tt.objs...).Build()
			cs := fakeclientset.NewClientset()
			cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = tt.served
			cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview)
				allowed := true
				for _, d := range tt.denied {
					if r.Spec.ResourceAttributes.Resource == d {
						allowed = false
					}
				}
				r.Status.Allowed = allowed
				return true, r, nil
			})
			err := preflight(context.Background(), cs.Discovery(), cs, c, testProfile())
			if tt.wantNil {
				if err != nil {
					t.Fatalf("preflight = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("preflight passed")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("preflight's error lacks %q:\n%v", w, err)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "existing lane: ") {
					t.Errorf("a line that does not name the lane: %q", line)
				}
			}
		})
	}
}

func TestRealKubelet(t *testing.T) {
	node := func(name string, kwok bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if kwok {
			n.Annotations = map[string]string{kwokNodeAnnotation: "fake"}
		}
		return n
	}
	csiNode := func(name string, drivers ...string) *storagev1.CSINode {
		n := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, d := range drivers {
			n.Spec.Drivers = append(n.Spec.Drivers, storagev1.CSINodeDriver{Name: d, NodeID: name})
		}
		return n
	}
	tests := []struct {
		name string
		objs []client.Object
		want bool
	}{
		{name: "kwok nodes only", objs: []client.Object{node("a", true), csiNode("a", "csi.example.com")}},
		{name: "a real node without the driver", objs: []client.Object{node("a", false), csiNode("a", "csi.other.com")}},
		{name: "a real node, no CSINode", objs: []client.Object{node("a", false)}},
		{name: "a real node with the driver", objs: []client.Object{node("k", true), node("a", false), csiNode("a", "csi.other.com", "csi.example.com")}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(tt.objs...).Build()
			got, err := realKubelet(context.Background(), c, "csi.example.com")
			if err != nil || got != tt.want {
				t.Errorf("realKubelet = %v, %v, want %v", got, err, tt.want)
			}
		})
	}
}
