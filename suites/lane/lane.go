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
