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
	client client.Client
	log    logr.Logger
	poll   time.Duration
}

// Option configures an Exposer.
type Option func(*Exposer)

// WithLogger sets the logger (default: discard).
func WithLogger(l logr.Logger) Option { return func(e *Exposer) { e.log = l } }

// WithPollInterval sets how soon a wait looks at the cluster again at first (default 250ms); the
// interval grows by half each time, up to eight times this (pollUntil).
func WithPollInterval(d time.Duration) Option { return func(e *Exposer) { e.poll = d } }

// New returns an Exposer working through c.
func New(c client.Client, opts ...Option) *Exposer {
	e := &Exposer{client: c, log: logr.Discard(), poll: 250 * time.Millisecond}
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
