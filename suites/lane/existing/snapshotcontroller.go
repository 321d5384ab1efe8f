package existing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// snapshotControllerWait is how long preflight waits for a snapshot controller to answer.
const snapshotControllerWait = 20 * time.Second

// snapshotControllerProblems asks the cluster whether a snapshot controller runs, the only way
// that does not depend on how it was installed: a VolumeSnapshot of a PVC that does not exist, in
// a namespace of preflight's own. A running snapshot-controller gives it a status (an error about
// the missing PVC) within seconds; with none it stays without one, and every backup would wait
// for its snapshot. Nothing is provisioned or snapshotted; the namespace goes at once.
func snapshotControllerProblems(ctx context.Context, c client.Client, p *profile.Profile, within time.Duration) []string {
	return inScratchNamespace(ctx, c, "check for a snapshot controller", func(ns string) []string {
		vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "snapshot-controller-check", Labels: lane.ManagedLabels(nil)},
			Spec: snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("absent")},
				VolumeSnapshotClassName: ptr.To(p.SnapshotClass.Name)}}
		if err := c.Create(ctx, vs); err != nil {
			return []string{fmt.Sprintf("cannot check for a snapshot controller: creating VolumeSnapshot %s/%s: %v", ns, vs.Name, err)}
		}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, within, true, func(ctx context.Context) (bool, error) {
			return c.Get(ctx, client.ObjectKeyFromObject(vs), vs) == nil && vs.Status != nil, nil
		})
		if err != nil {
			return []string{fmt.Sprintf("no snapshot controller answered: a VolumeSnapshot of a missing PVC got no status in %v (a running snapshot-controller says the PVC is missing at once): install external-snapshotter v8's snapshot-controller", within)}
		}
		return nil
	})
}

// inScratchNamespace runs check in a namespace of its own, labelled as the harness's, and deletes
// the namespace (with what check made in it) afterwards, even when ctx is done.
func inScratchNamespace(ctx context.Context, c client.Client, what string, check func(ns string) []string) []string {
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bpvc-preflight-" + hex.EncodeToString(id), Labels: lane.ManagedLabels(nil)}}
	if err := c.Create(ctx, ns); err != nil {
		return []string{fmt.Sprintf("cannot %s: creating namespace %s: %v", what, ns.Name, err)}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.Delete(ctx, ns, client.PropagationPolicy("Background"))
	}()
	return check(ns.Name)
}
