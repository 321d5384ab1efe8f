package existing

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kwokNodeAnnotation marks the nodes kwok simulates (no kubelet runs their pods).
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// realKubelet says whether the cluster runs pods for real with the driver: a node that kwok does
// not simulate whose CSINode lists the driver (its kubelet registered it). The cluster decides,
// not the lane's name.
func realKubelet(ctx context.Context, c client.Client, driver string) (bool, error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return false, err
	}
	for _, n := range nodes.Items {
		if _, simulated := n.Annotations[kwokNodeAnnotation]; simulated {
			continue
		}
		csi := &storagev1.CSINode{}
		if err := c.Get(ctx, client.ObjectKey{Name: n.Name}, csi); err != nil {
			continue
		}
		for _, d := range csi.Spec.Drivers {
			if d.Name == driver {
				return true, nil
			}
		}
	}
	return false, nil
}
