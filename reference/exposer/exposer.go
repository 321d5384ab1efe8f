package exposer

import (
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Exposer exposes CSI snapshots for DataUploads. The owner of every call is the DataUpload, given
// as an ObjectReference with APIVersion, Kind, Namespace (the Velero namespace), Name and UID.
type Exposer struct {
	client client.WithWatch
	log    logr.Logger
}

// Option configures an Exposer.
type Option func(*Exposer)

// WithLogger sets the logger (default: discard).
func WithLogger(l logr.Logger) Option { return func(e *Exposer) { e.log = l } }

// New returns an Exposer working through c, which it reads and watches directly (no cache): its
// waits watch the one object they wait for (waitFor).
func New(c client.WithWatch, opts ...Option) *Exposer {
	e := &Exposer{client: c, log: logr.Discard()}
	for _, o := range opts {
		o(e)
	}
	return e
}

// cleanUpTimeout bounds the wait for the backupPVC and its PV to go (spec D6).
const cleanUpTimeout = time.Minute

func key(owner corev1.ObjectReference) client.ObjectKey {
	return client.ObjectKey{Namespace: owner.Namespace, Name: owner.Name}
}
