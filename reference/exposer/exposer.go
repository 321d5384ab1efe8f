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
	// pods reads the backupPod where the Exposer only looks at it (PeekExposed, GetExposed).
	pods client.Reader
	log  logr.Logger
}

// Option configures an Exposer.
type Option func(*Exposer)

// WithLogger sets the logger (default: discard).
func WithLogger(l logr.Logger) Option { return func(e *Exposer) { e.log = l } }

// WithPodReader reads the backupPod through r where the Exposer only looks at it (PeekExposed,
// GetExposed): a cache that a watch of the pods keeps, which the controllers have anyway. A
// controller asks every check interval while a DataUpload waits Accepted (250 ms for the suites),
// and those reads were the reference's most frequent request (461 GETs in one make e2e run).
func WithPodReader(r client.Reader) Option { return func(e *Exposer) { e.pods = r } }

// New returns an Exposer working through c, which it reads and watches directly (no cache, but
// for WithPodReader): its waits watch the one object they wait for (waitFor).
func New(c client.WithWatch, opts ...Option) *Exposer {
	e := &Exposer{client: c, pods: c, log: logr.Discard()}
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
