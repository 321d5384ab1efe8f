package existing

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/kind"
)

// TestKindExistingLane certifies a driver the way a vendor does, on a cluster with a real kubelet:
// a kind cluster with the storage emulator installed by its owner (the kind lane; the vendor's
// profile says create: false), then make e2e LANE=existing against it with the harness's data
// mover image on the node named by BACKUP_POD_IMAGE. The specs that need a data path must run there (the
// cluster, not the lane's name, says a kubelet runs the driver), and pass; a second run with a
// wrong profile (its backup class refuses ReadOnlyMany) must fail; after each, the cluster must be
// exactly as it was: namespaces, classes, snapshot classes, CSIDrivers, CRDs (by UID and
// resourceVersion), cluster RBAC, PVs. It needs a Docker engine: make test-kind-existing runs it
// through hack/kind/with-docker.sh (BACKUPPVC_KIND=1).
func TestKindExistingLane(t *testing.T) {
	if os.Getenv("BACKUPPVC_KIND") != "1" {
		t.Skip("needs a Docker engine and the kind lane's images: make test-kind-existing runs it")
	}
	root := toolchain.RepoRoot()
	ctx := context.Background()
	art := keptOnFailure(t, root, "kind-existing-lane")
	vendor, c := upVendor(t, root, art, func(ctx context.Context, p *profile.Profile, art string) (*kind.Lane, error) {
		return kind.Up(ctx, kind.Options{Name: fmt.Sprintf("vendor-%d", os.Getpid()), Profile: p, Images: kind.ImagesOffline, ArtifactsDir: art})
	})
	// The image the kind lane loaded into the node (make datamover-image's archive, named by
	// digest, did not start in containerd 1.6 here: the fill pods never ran).
	image := "BACKUP_POD_IMAGE=" + vendor.BackupPodImage()
	before := clusterState(ctx, t, c)

	t.Run("without a usable backupPod image the preflight stops the run, naming it", func(t *testing.T) {
		doc := vendorProfile(t, root, onRealKubelet)
		_, log, err := vendorRun(root, vendor.Kubeconfig(), doc, art, "no-image")
		if err == nil || !strings.Contains(log, "no image of the harness's data mover is given for them: make datamover-image") {
			t.Errorf("make e2e LANE=existing with no BACKUP_POD_IMAGE on a real kubelet: %v\n%s", err, log)
		}
		// A registry on the node's loopback that nothing serves: the pull fails at once, offline.
		start := time.Now()
		_, log, err = vendorRun(root, vendor.Kubeconfig(), doc, art, "bad-image", "BACKUP_POD_IMAGE=127.0.0.1:1/backuppvc/absent:v0")
		if err == nil || !strings.Contains(log, "existing lane: the backupPod image 127.0.0.1:1/backuppvc/absent:v0 does not run on node") {
			t.Errorf("make e2e LANE=existing with an image the node cannot pull: %v\n%s", err, log)
		}
		t.Logf("an image the node cannot pull stopped the run in %v", time.Since(start).Round(time.Millisecond))
		expectAsFound(ctx, t, c, before)
	})
	t.Run("certification passes, with the data path", func(t *testing.T) {
		res, log, err := vendorRun(root, vendor.Kubeconfig(), vendorProfile(t, root, onRealKubelet), art, "pass", image)
		if err != nil {
			t.Fatalf("make e2e LANE=existing on a real kubelet: %v\n%s", err, log)
		}
		t.Logf("specs on the real kubelet: %s", res.counts())
		for _, spec := range []string{"write-read-only", "write-writable"} {
			if v := res.verdict(spec); v != "passed" {
				t.Errorf("spec %s: %s, want passed: the cluster has a real kubelet running the driver (%s)", spec, v, res.reason(spec))
			}
		}
		expectAsFound(ctx, t, c, before)
	})
	t.Run("a wrong profile fails and leaves nothing", func(t *testing.T) {
		// The profile swaps the backup class and the one that refuses ReadOnlyMany from a snapshot:
		// the read-only specs must fail at the prepare timeout, the refusing one by completing.
		swap := strings.NewReplacer("name: emu-backup\n    role: backup", "name: emu-no-rox\n    role: backup",
			"name: emu-no-rox\n    role: refusesReadOnly", "name: emu-backup\n    role: refusesReadOnly").Replace
		doc := vendorProfile(t, root, func(s string) string { return swap(onRealKubelet(s)) })
		res, log, err := vendorRun(root, vendor.Kubeconfig(), doc, art, "fail", image, "LABELS=readOnly && !kubelet && !scale", "PREPARE_TIMEOUT=20s")
		if err == nil {
			t.Fatalf("make e2e LANE=existing passed with a backup class that refuses ReadOnlyMany\n%s", log)
		}
		for _, spec := range []string{"read-only", "refuses-read-only"} {
			if v := res.verdict(spec); v != "failed" {
				t.Errorf("spec %s: %s, want failed (%s)\n%s", spec, v, res.reason(spec), log)
			}
		}
		expectAsFound(ctx, t, c, before)
	})
}
