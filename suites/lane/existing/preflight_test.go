package existing

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakeclientset "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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
	secondUnlabelled := unlabelled.DeepCopy()
	secondUnlabelled.Name = "snap-2"
	secondLabelled := labelled.DeepCopy()
	secondLabelled.Name = "snap-2"
	otherDriver := labelled.DeepCopy()
	otherDriver.Driver = "csi.other.com"
	good := []client.Object{class("fast", "csi.example.com"), class("ro", "csi.example.com"), labelled}
	tests := []struct {
		name   string
		objs   []client.Object
		served []*metav1.APIResourceList
		denied []string // resources the user may not use
		// noSnapshotController: no VolumeSnapshot gets a status.
		noSnapshotController bool
		want                 []string // one line each
		wantNil              bool
	}{
		{name: "all there", objs: good, served: allServed(), wantNil: true},
		{name: "default snapshot class annotation", objs: []client.Object{good[0], good[1], defaultClass}, served: allServed(), wantNil: true},
		{name: "no Velero CRDs", objs: good, served: allServed()[2:], want: []string{
			"existing lane: velero.io/v1 backups, restores, backupstoragelocations not served: install Velero v1.18.3's CRDs",
			"existing lane: velero.io/v2alpha1 datauploads, datadownloads not served"}},
		{name: "the driver's only snapshot class, unlabelled: Velero takes it", objs: []client.Object{good[0], good[1], unlabelled}, served: allServed(), wantNil: true},
		{name: "two snapshot classes of the driver, none labelled", objs: []client.Object{good[0], good[1], unlabelled, secondUnlabelled}, served: allServed(),
			want: []string{"existing lane: Velero would find no volume snapshot class for driver csi.example.com, so every backup would fail before its DataUpload: label snap velero.io/csi-volumesnapshot-class=true"}},
		{name: "another class of the driver is the labelled one", objs: []client.Object{good[0], good[1], unlabelled, secondLabelled}, served: allServed(),
			want: []string{"existing lane: Velero would snapshot driver csi.example.com's volumes with class snap-2, not the profile's snap"}},
		{name: "snapshot class of another driver", objs: []client.Object{good[0], good[1], otherDriver}, served: allServed(),
			want: []string{"volume snapshot class snap belongs to driver csi.other.com, not csi.example.com"}},
		{name: "class missing and class of another provisioner", objs: []client.Object{class("ro", "csi.other.com"), labelled}, served: allServed(),
			want: []string{"storage class fast (role source):", "create it, or set create: true in profile vendor",
				"storage class ro (role backup) is provisioned by csi.other.com, profile vendor says csi.example.com"}},
		{name: "no snapshot controller", objs: good, served: allServed(), noSnapshotController: true,
			want: []string{"existing lane: no snapshot controller answered: a VolumeSnapshot of a missing PVC got no status in 300ms", "install external-snapshotter v8's snapshot-controller"}},
		{name: "user may not create PVCs or backups", objs: good, served: allServed(), denied: []string{"persistentvolumeclaims", "backups"},
			want: []string{"existing lane: the kubeconfig's user may not create persistentvolumeclaims, create backups.velero.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var snapshots []string
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(tt.objs...).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					// The API server's answer to the user's access reviews.
					if r, ok := obj.(*authv1.SelfSubjectAccessReview); ok {
						r.Status.Allowed = !slices.Contains(tt.denied, r.Spec.ResourceAttributes.Resource)
						return nil
					}
					// What a snapshot-controller does to a snapshot of a missing PVC.
					if vs, ok := obj.(*snapshotv1.VolumeSnapshot); ok {
						snapshots = append(snapshots, vs.Namespace)
						if !tt.noSnapshotController {
							vs.Status = &snapshotv1.VolumeSnapshotStatus{Error: &snapshotv1.VolumeSnapshotError{Message: ptr.To("PVC absent not found")}}
						}
					}
					return c.Create(ctx, obj, opts...)
				}}).Build()
			cs := fakeclientset.NewClientset()
			cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = tt.served
			err := preflight(context.Background(), cs.Discovery(), c, testProfile(), 300*time.Millisecond)
			// The snapshot controller's check leaves nothing: its namespace is deleted.
			for _, ns := range snapshots {
				if err := c.Get(context.Background(), client.ObjectKey{Name: ns}, &corev1.Namespace{}); err == nil {
					t.Errorf("the snapshot controller's check left namespace %s", ns)
				}
			}
			if served := tt.served[len(tt.served)-1].GroupVersion == "snapshot.storage.k8s.io/v1"; served && len(snapshots) != 1 {
				t.Errorf("%d snapshot controller checks, want 1", len(snapshots))
			}
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

func TestImageProblems(t *testing.T) {
	tests := []struct {
		name  string
		state corev1.ContainerState
		want  string
	}{
		{name: "runs", state: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
		{name: "never pulled", state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: `Container image "x" is not present with pull policy of Never`}},
			want: `the backupPod image img:1 does not run on node "n1": ErrImageNeverPull: Container image "x" is not present with pull policy of Never: make datamover-image, push it where your nodes pull from`},
		{name: "fails", state: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "no /velero"}},
			want: `does not run on node "n1": exited 1 (Error no /velero)`},
		{name: "never starts", state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
			want: `the backupPod image img:1 did not run within 300ms (pod phase Pending, node "n1")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var namespaces []string
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					if pod, ok := obj.(*corev1.Pod); ok {
						namespaces = append(namespaces, pod.Namespace)
						if pod.Spec.Containers[0].Image != "img:1" || pod.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
							t.Errorf("the check's pod runs %s pulling %s", pod.Spec.Containers[0].Image, pod.Spec.Containers[0].ImagePullPolicy)
						}
						// What the scheduler and the kubelet say of it.
						pod.Spec.NodeName = "n1"
						pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "datamover", State: tt.state}}}
					}
					return c.Create(ctx, obj, opts...)
				}}).Build()
			got := strings.Join(imageProblems(context.Background(), c, "img:1", 300*time.Millisecond), "\n")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("imageProblems = %q, want %q", got, tt.want)
			}
			if len(namespaces) != 1 {
				t.Fatalf("%d pods, want 1", len(namespaces))
			}
			if err := c.Get(context.Background(), client.ObjectKey{Name: namespaces[0]}, &corev1.Namespace{}); err == nil {
				t.Errorf("the check left namespace %s", namespaces[0])
			}
		})
	}
}
