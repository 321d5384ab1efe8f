package existing

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

// TestIntegrationExistingLaneLeavesTheClusterAsFound runs the whole conformance suite the way a
// vendor certifies a driver (make e2e LANE=existing), against a local lane standing in for the
// vendor's cluster, and checks the harness left nothing and touched nothing of the vendor's. Then,
// the Velero CRDs removed, the preflight must stop the run saying what to do, and INSTALL_CRDS=1
// must install them for the run and remove exactly those after it.
func TestIntegrationExistingLaneLeavesTheClusterAsFound(t *testing.T) {
	toolchain.RequireIntegration(t, [2]string{"kwok", "kwokctl"}, [2]string{"kubernetes", "kube-apiserver"})
	root := toolchain.RepoRoot()
	ctx := context.Background()
	art := keptOnFailure(t, root, "existing-lane")
	vendor, c := upVendor(t, root, art, func(ctx context.Context, p *profile.Profile, art string) (*local.Lane, error) {
		return local.Up(ctx, local.Options{Name: fmt.Sprintf("it-vendor-%d", os.Getpid()), Profile: p, ArtifactsDir: art})
	})
	// Objects of the vendor's that a run must not touch.
	mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vendor-data"}, Data: map[string]string{"k": "v"}}
	if err := c.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	before := clusterState(ctx, t, c)
	doc := vendorProfile(t, root, unchanged)

	if !t.Run("certification passes", func(t *testing.T) {
		if _, log, err := vendorRun(root, vendor.Kubeconfig(), doc, art, "pass"); err != nil {
			t.Fatalf("make e2e LANE=existing: %v\n%s", err, log)
		}
		expectAsFound(ctx, t, c, before)
		got := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(mine), got); err != nil || got.Data["k"] != "v" || got.ResourceVersion != mine.ResourceVersion {
			t.Errorf("the vendor's ConfigMap was touched: %+v, %v", got.Data, err)
		}
	}) {
		return
	}

	// A cluster without Velero's CRDs (its snapshot CRDs stay).
	crds := &apiextv1.CustomResourceDefinitionList{}
	if err := c.List(ctx, crds); err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds.Items {
		if crd.Spec.Group == "velero.io" {
			if err := c.Delete(ctx, &crd); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		l := &apiextv1.CustomResourceDefinitionList{}
		return c.List(ctx, l) == nil && !slices.ContainsFunc(l.Items, func(crd apiextv1.CustomResourceDefinition) bool { return crd.Spec.Group == "velero.io" }), nil
	}); err != nil {
		t.Fatalf("the Velero CRDs did not go: %v", err)
	}
	withoutVelero := clusterState(ctx, t, c)
	// One spec is enough to prove the CRDs served; the preflight comes before any.
	oneSpec := "LABELS=storageClass"
	t.Run("without Velero's CRDs the preflight says what to do", func(t *testing.T) {
		start := time.Now()
		_, log, err := vendorRun(root, vendor.Kubeconfig(), doc, art, "no-crds", oneSpec)
		if err == nil {
			t.Fatalf("make e2e LANE=existing passed on a cluster without Velero's CRDs\n%s", log)
		}
		for _, want := range []string{"existing lane: velero.io/v1 backups, restores, backupstoragelocations not served: install Velero v1.18.3's CRDs",
			"existing lane: velero.io/v2alpha1 datauploads, datadownloads not served", "INSTALL_CRDS=1"} {
			if !strings.Contains(log, want) {
				t.Errorf("the run's output lacks %q:\n%s", want, log)
			}
		}
		t.Logf("failed as it should in %v", time.Since(start).Round(time.Millisecond))
		expectAsFound(ctx, t, c, withoutVelero)
	})
	t.Run("INSTALL_CRDS=1 installs them for the run and removes exactly those", func(t *testing.T) {
		if _, log, err := vendorRun(root, vendor.Kubeconfig(), doc, art, "install-crds", oneSpec, "INSTALL_CRDS=1"); err != nil {
			t.Fatalf("make e2e LANE=existing INSTALL_CRDS=1: %v\n%s", err, log)
		}
		// The snapshot CRDs, which the cluster had, by UID and resourceVersion; Velero's gone again.
		expectAsFound(ctx, t, c, withoutVelero)
	})
}
