package conformance

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Tracker removes what one spec created, last in first out, whatever failed after (as csi-test's
// sanity suite does with its resource tracker): each object is added the moment it exists, so a
// failure between two creations cannot leave the first behind. Objects a system under test makes
// on the spec's behalf under a name the spec chose (a Restore's target namespace) are added
// before they exist. Safe for the goroutines of one spec.
type Tracker struct {
	c    client.Client
	mu   sync.Mutex
	objs []client.Object
}

// NewTracker tracks objects for deletion through c.
func NewTracker(c client.Client) *Tracker { return &Tracker{c: c} }

// Create creates obj and, if that succeeded, tracks it.
func (t *Tracker) Create(ctx context.Context, obj client.Object) error {
	if err := t.c.Create(ctx, obj); err != nil {
		return err
	}
	t.Track(obj)
	return nil
}

// Track adds an object to delete at CleanUp (only its kind, namespace and name are kept).
func (t *Tracker) Track(obj client.Object) {
	key := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	key.SetNamespace(obj.GetNamespace())
	key.SetName(obj.GetName())
	t.mu.Lock()
	defer t.mu.Unlock()
	t.objs = append(t.objs, key)
}

// CleanUp deletes the tracked objects, the last created first (what lives in a namespace goes
// before the namespace), in the background (a namespace's contents go with it), goes on past
// failures and returns them all. Objects already gone are fine. Tracking starts empty again.
func (t *Tracker) CleanUp(ctx context.Context) error {
	t.mu.Lock()
	objs := t.objs
	t.objs = nil
	t.mu.Unlock()
	var errs []error
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		if err := t.c.Delete(ctx, o, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("clean up %T %s: %w", o, client.ObjectKeyFromObject(o), err))
		}
	}
	return errors.Join(errs...)
}
