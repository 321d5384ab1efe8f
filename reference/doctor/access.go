package doctor

import (
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
)

// probeAccess is every verb the probe uses, cluster-wide (its namespaces do not exist yet when
// it checks); wffc adds what picking a node for WaitForFirstConsumer classes needs.
func probeAccess(wffc bool) []authv1.ResourceAttributes {
	snap := "snapshot.storage.k8s.io"
	out := []authv1.ResourceAttributes{
		{Verb: "create", Resource: "namespaces"},
		{Verb: "get", Resource: "namespaces"},
		{Verb: "delete", Resource: "namespaces"},
		{Verb: "create", Resource: "persistentvolumeclaims"},
		{Verb: "get", Resource: "persistentvolumeclaims"},
		{Verb: "delete", Resource: "persistentvolumeclaims"},
		{Verb: "list", Resource: "events"},
		{Verb: "list", Resource: "persistentvolumes"},
		{Verb: "patch", Resource: "persistentvolumes"},
		{Verb: "create", Group: snap, Resource: "volumesnapshots"},
		{Verb: "get", Group: snap, Resource: "volumesnapshots"},
		{Verb: "update", Group: snap, Resource: "volumesnapshots"},
		{Verb: "delete", Group: snap, Resource: "volumesnapshots"},
		{Verb: "list", Group: snap, Resource: "volumesnapshotcontents"},
		{Verb: "patch", Group: snap, Resource: "volumesnapshotcontents"},
		{Verb: "delete", Group: snap, Resource: "volumesnapshotcontents"},
	}
	if wffc {
		out = append(out, authv1.ResourceAttributes{Verb: "list", Resource: "nodes"},
			authv1.ResourceAttributes{Verb: "list", Group: "storage.k8s.io", Resource: "csinodes"})
	}
	return out
}

func deniedMessage(denied []string) string {
	return fmt.Sprintf("probe refused, nothing created: the kubeconfig's user may not %s (the probe creates a namespace per entry with a PVC, "+
		"a VolumeSnapshot and a PVC from it, and removes them again)", strings.Join(denied, ", "))
}
