package access

import (
	"context"
	"fmt"

	authv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Denied names what of attrs the user may not do: "create persistentvolumeclaims", "delete
// volumesnapshots.snapshot.storage.k8s.io".
func Denied(ctx context.Context, c client.Client, attrs []authv1.ResourceAttributes) ([]string, error) {
	var denied []string
	for _, a := range attrs {
		review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &a}}
		if err := c.Create(ctx, review); err != nil {
			return nil, fmt.Errorf("cannot check the user's permissions (SelfSubjectAccessReview): %w", err)
		}
		if !review.Status.Allowed {
			what := a.Resource
			if a.Group != "" {
				what += "." + a.Group
			}
			denied = append(denied, a.Verb+" "+what)
		}
	}
	return denied, nil
}
