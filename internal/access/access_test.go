package access

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

func TestDenied(t *testing.T) {
	fail := false
	c := fake.NewClientBuilder().WithScheme(kubescheme.New()).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			r := obj.(*authv1.SelfSubjectAccessReview)
			if fail {
				return errors.New("forbidden")
			}
			a := r.Spec.ResourceAttributes
			r.Status.Allowed = !(a.Verb == "delete" && a.Resource == "persistentvolumeclaims") && a.Group != "snapshot.storage.k8s.io"
			return nil
		}}).Build()
	attrs := []authv1.ResourceAttributes{{Verb: "create", Resource: "persistentvolumeclaims"}, {Verb: "delete", Resource: "persistentvolumeclaims"},
		{Verb: "create", Group: "snapshot.storage.k8s.io", Resource: "volumesnapshots"}}
	got, err := Denied(context.Background(), c, attrs)
	if want := []string{"delete persistentvolumeclaims", "create volumesnapshots.snapshot.storage.k8s.io"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Denied = %v, %v, want %v", got, err, want)
	}
	fail = true
	if _, err := Denied(context.Background(), c, attrs); err == nil || !strings.Contains(err.Error(), "cannot check the user's permissions") {
		t.Errorf("Denied with reviews refused = %v", err)
	}
}
