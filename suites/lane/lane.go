package lane

import (
	"context"
	"maps"

	"k8s.io/client-go/rest"
)

// Lane is a cluster the suites can use.
type Lane interface {
	// Name identifies the lane instance (several can run side by side).
	Name() string
	// Kind is local, kind or existing.
	Kind() string
	Kubeconfig() string
	RESTConfig() *rest.Config
	// Versions names every component and its version, for the certification report.
	Versions() map[string]string
	// LogDir holds the components' logs (empty when the lane has none of its own).
	LogDir() string
	// Healthy says which supervised component has died, if any.
	Healthy() error
	// Down stops everything the lane started and removes what it made.
	Down(ctx context.Context) error
}

// UnrecoverablePodPrefix starts the name of every pod a PodFailer lane makes fail before it
// runs. A backupPod is named after its DataUpload, and Velero names a DataUpload after its Backup:
// the backupPod of a Backup named so is unrecoverable (SPEC D3).
const UnrecoverablePodPrefix = "unrecoverable-pod-"

// The messages a PodFailer lane gives a pod it fails: the pod's, and each container's.
const (
	UnrecoverablePodMessage       = "kwok-simulated container that cannot start"
	UnrecoverableContainerMessage = "kwok-simulated start failure"
)

// PodFailer is a lane on which every pod named UnrecoverablePodPrefix... fails before it runs
// (phase Failed, status.message UnrecoverablePodMessage, its containers terminated with exit
// code 1 and UnrecoverableContainerMessage), as a pod whose container cannot start does, without
// waiting for a kubelet to give up on it.
type PodFailer interface {
	FailsUnrecoverablePods() bool
}

// ManagedByLabel marks every object the harness creates, so sweeps find them and nothing else.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "backuppvc-conformance"
)

// ManagedLabels are the harness's label and extra.
func ManagedLabels(extra map[string]string) map[string]string {
	out := map[string]string{ManagedByLabel: ManagedByValue}
	maps.Copy(out, extra)
	return out
}
