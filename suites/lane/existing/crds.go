package existing

import (
	"context"
	"fmt"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/backuppvc-conformance/harness/internal/modsrc"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// installCRDs creates those of the pinned Velero and snapshot CRDs (from their modules) that the
// cluster does not have, labelled as the harness's, and waits until the API server serves them.
// A CRD the cluster has already is left exactly as it is, whatever its version: it is the
// owner's. It returns what it created, and only that is removed at the end.
func installCRDs(ctx context.Context, cfg *rest.Config, c client.Client) ([]client.Object, error) {
	paths, err := modsrc.CRDPaths()
	if err != nil {
		return nil, err
	}
	opts := envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true, MaxTime: time.Minute}
	if err := envtest.ReadCRDFiles(&opts); err != nil {
		return nil, fmt.Errorf("existing lane: reading the CRDs: %w", err)
	}
	var created []client.Object
	var crds []*apiextv1.CustomResourceDefinition
	for _, crd := range opts.CRDs {
		crd.Labels = lane.ManagedLabels(crd.Labels)
		switch err := c.Create(ctx, crd); {
		case apierrors.IsAlreadyExists(err):
			continue
		case err != nil:
			return created, fmt.Errorf("existing lane: --install-crds: create CRD %s: %w", crd.Name, err)
		}
		created = append(created, crd)
		crds = append(crds, crd)
	}
	if err := envtest.WaitForCRDs(cfg, crds, opts); err != nil {
		return created, fmt.Errorf("existing lane: --install-crds: the CRDs it created are not served after %v: %w", opts.MaxTime, err)
	}
	return created, nil
}

// removeCRDs deletes the CRDs installCRDs created, each only while it is still the one it created
// (same UID): a CRD somebody else made since under that name stays.
func removeCRDs(ctx context.Context, c client.Client, crds []client.Object) error {
	for _, crd := range crds {
		uid := crd.GetUID()
		if err := c.Delete(ctx, crd, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("existing lane: remove CRD %s: %w", crd.GetName(), err)
		}
	}
	return nil
}
