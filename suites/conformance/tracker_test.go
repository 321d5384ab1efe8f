package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func TestTrackerCleansUpLastInFirstOutPastFailures(t *testing.T) {
	var deleted []string
	c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithInterceptorFuncs(interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			deleted = append(deleted, obj.GetName())
			if obj.GetName() == "stuck" {
				return errors.New("refused")
			}
			return c.Delete(ctx, obj, opts...)
		},
	}).Build()
	ctx := context.Background()
	tr := NewTracker(c)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bpvc-run-a-0"}}
	for _, o := range []client.Object{ns,
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "data"}},
		&velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "stuck"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "fill"}},
	} {
		if err := tr.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// Refused creations are not tracked; what a system makes under a chosen name is, before it exists.
	if err := tr.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name}}); err == nil {
		t.Fatal("creating a namespace twice succeeded")
	}
	tr.Track(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bpvc-run-a-0-restored"}})

	err := tr.CleanUp(ctx)
	if err == nil || !strings.Contains(err.Error(), "clean up *v1.Backup velero/stuck: refused") || strings.Count(err.Error(), "clean up") != 1 {
		t.Errorf("CleanUp = %v, want exactly the refused Backup named", err)
	}
	if want := []string{"bpvc-run-a-0-restored", "fill", "stuck", "data", "bpvc-run-a-0"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v (last in, first out; on past the failure)", deleted, want)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "data"}, &corev1.PersistentVolumeClaim{}); err == nil {
		t.Error("the PVC is still there")
	}
	deleted = nil
	if err := tr.CleanUp(ctx); err != nil || len(deleted) != 0 {
		t.Errorf("a second CleanUp = %v, deleted %v: want nothing left to do", err, deleted)
	}
}
