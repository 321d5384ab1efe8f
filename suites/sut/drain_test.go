package sut

import (
	"context"
	"strings"
	"testing"
	"time"

	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

// A DataUpload the system under test never lets go (stopped, or broken) is named by the drain,
// then released, so the run's namespace can go; one without a finalizer simply goes.
func TestDrainAndReleaseDataUploads(t *testing.T) {
	held := &velerov2alpha1.DataUpload{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "held", Finalizers: []string{"velero.io/data-upload-download-finalizer"}},
		Status: velerov2alpha1.DataUploadStatus{Phase: velerov2alpha1.DataUploadPhaseAccepted}}
	done := &velerov2alpha1.DataUpload{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "done"}}
	c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithObjects(held, done).Build()
	ctx := context.Background()
	err := drainDataUploads(ctx, c, "velero", 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "held (Accepted, finalizers [velero.io/data-upload-download-finalizer])") || strings.Contains(err.Error(), "done") {
		t.Fatalf("drain = %v, want it to name the held DataUpload only", err)
	}
	released, err := releaseDataUploads(ctx, c, "velero")
	if err != nil || strings.Join(released, ",") != "held" {
		t.Fatalf("release = %v, %v; want [held]", released, err)
	}
	list := &velerov2alpha1.DataUploadList{}
	if err := c.List(ctx, list); err != nil || len(list.Items) != 0 {
		t.Errorf("left after release: %d (%v)", len(list.Items), err)
	}
}
