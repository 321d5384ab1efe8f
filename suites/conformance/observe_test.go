package conformance

import (
	"testing"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The specs wait on the Observer's DataUploads: the latest state of each, found by name or by its
// Backup's label, kept after deletion, and a copy the caller may change.
func TestObserverDataUploads(t *testing.T) {
	o := &Observer{uploads: map[string]*velerov2alpha1.DataUpload{}, phases: map[string][]velerov2alpha1.DataUploadPhase{}}
	see := func(name, backup string, phase velerov2alpha1.DataUploadPhase) {
		t.Helper()
		du := &velerov2alpha1.DataUpload{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{velerov1.BackupNameLabel: backup}},
			Status: velerov2alpha1.DataUploadStatus{Phase: phase}}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(du)
		if err != nil {
			t.Fatal(err)
		}
		o.seeDataUpload(&unstructured.Unstructured{Object: m})
	}
	if _, ok := o.DataUploadOf("b1"); ok {
		t.Fatal("a DataUpload of b1 before any was seen")
	}
	see("du-1", "b1", "")
	see("du-2", "b2", velerov2alpha1.DataUploadPhaseAccepted)
	if du, ok := o.DataUploadOf("b1"); !ok || du.Name != "du-1" || du.Status.Phase != "" {
		t.Fatalf("DataUploadOf(b1) = %v, %v; want du-1 with no phase yet", du, ok)
	}
	see("du-1", "b1", velerov2alpha1.DataUploadPhaseAccepted)
	see("du-1", "b1", velerov2alpha1.DataUploadPhaseFailed)
	du, ok := o.DataUpload("du-1")
	if !ok || du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed {
		t.Fatalf("DataUpload(du-1) = %v, %v; want its latest state, Failed", du, ok)
	}
	du.Status.Phase = velerov2alpha1.DataUploadPhaseCompleted
	if again, _ := o.DataUpload("du-1"); again.Status.Phase != velerov2alpha1.DataUploadPhaseFailed {
		t.Fatalf("a caller's change reached the Observer: %s", again.Status.Phase)
	}
	if got := o.Phases("du-1"); len(got) != 2 {
		t.Fatalf("phases of du-1 %v, want [Accepted Failed]", got)
	}
}
