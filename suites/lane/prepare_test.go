package lane

import (
	"context"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func testProfile(t *testing.T, classes string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse([]byte(`apiVersion: conformance.backuppvc.io/v1alpha1
kind: DriverProfile
name: t
driver: csi.example.com
lanes: [existing]
storageClasses:
` + classes + `
snapshotClass: {name: snap, create: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrepare(t *testing.T) {
	foreign := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "src"}, Provisioner: "someone.else"}
	ours := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "src", Labels: map[string]string{ManagedByLabel: ManagedByValue}}, Provisioner: "csi.example.com"}
	tests := []struct {
		name     string
		classes  string
		existing []client.Object
		wantErr  string
		created  int
	}{
		{name: "creates classes, the snapshot class and CSIDriver, labelled", classes: "  - {name: src, role: source, create: true}", created: 3},
		{name: "a class to use must exist, named in the error", classes: "  - {name: vendor-fast, role: source, create: false}",
			wantErr: "storage class vendor-fast (role source) of profile t"},
		{name: "never takes over an object it did not make", classes: "  - {name: src, role: source, create: true}", existing: []client.Object{foreign},
			wantErr: "exists and was not made by this harness"},
		{name: "reuses what an earlier run of ours left", classes: "  - {name: src, role: source, create: true}", existing: []client.Object{ours}, created: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(tc.existing...).Build()
			created, err := Prepare(context.Background(), c, testProfile(t, tc.classes), []string{"csi.example.com"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(created) != tc.created {
				t.Fatalf("created %d objects, want %d", len(created), tc.created)
			}
			vsc := &snapshotv1.VolumeSnapshotClass{}
			if err := c.Get(context.Background(), client.ObjectKey{Name: "snap"}, vsc); err != nil || vsc.Labels[velerov1.VolumeSnapshotClassSelectorLabel] != "true" || vsc.Labels[ManagedByLabel] != ManagedByValue {
				t.Fatalf("snapshot class %+v, %v: want it labelled for Velero and as ours", vsc.Labels, err)
			}
			if err := Unprepare(context.Background(), c, created); err != nil {
				t.Fatal(err)
			}
			if err := c.Get(context.Background(), client.ObjectKey{Name: "snap"}, vsc); err == nil {
				t.Error("Unprepare left the snapshot class")
			}
		})
	}
}

// A CRD Established long ago needs no wait, even with a context already ended; one Established a
// moment ago is waited for, until the context ends; a CRD that cannot be read is not waited for.
func TestWaitOutCreateHold(t *testing.T) {
	crd := func(established time.Time) *apiextv1.CustomResourceDefinition {
		return &apiextv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: volumeSnapshotClassCRD},
			Status: apiextv1.CustomResourceDefinitionStatus{Conditions: []apiextv1.CustomResourceDefinitionCondition{
				{Type: apiextv1.NamesAccepted, Status: apiextv1.ConditionTrue, LastTransitionTime: metav1.NewTime(established)},
				{Type: apiextv1.Established, Status: apiextv1.ConditionTrue, LastTransitionTime: metav1.NewTime(established)}}}}
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		existing []client.Object
		wantErr  bool
	}{
		{"established a minute ago", []client.Object{crd(time.Now().Add(-time.Minute))}, false},
		{"established now", []client.Object{crd(time.Now())}, true},
		{"no such CRD", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(tc.existing...).Build()
			err := waitOutCreateHold(ended, c, volumeSnapshotClassCRD)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), volumeSnapshotClassCRD) {
				t.Errorf("error %v does not name the CRD", err)
			}
		})
	}
}
