package exposer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// errWaitTimedOut is what waitFor returns when its timeout passes first.
var errWaitTimedOut = errors.New("timed out")

// retryAfterReadError is how long waitFor waits after a failed read or watch before it reads again.
const retryAfterReadError = time.Second

// waitFor waits, bounded by timeout, until done holds for the object obj names, given the object
// as last seen (gone: it does not exist). It watches that one object from the version it last saw,
// so a wait costs one request (obj already read: the API server replays what happened since) or
// two (a read, then the watch) however long it lasts. Polling cost one request per look: at 200
// exposes at once, when the API server on 2 cores was the bottleneck and every wait was long, the
// reference's exposer sent 1.09 times the requests of Velero's (make bench, library side by side).
// A watch the API server ends, or one from a version it no longer holds, starts over with a read.
// obj holds the object as last seen when waitFor returns.
func (e *Exposer) waitFor(ctx context.Context, obj client.Object, timeout time.Duration, done func(gone bool) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	list, err := e.listFor(obj)
	if err != nil {
		return err
	}
	k := client.ObjectKeyFromObject(obj)
	for {
		if obj.GetResourceVersion() == "" {
			err := e.client.Get(ctx, k, obj)
			gone := apierrors.IsNotFound(err)
			switch {
			case err != nil && !gone && ctx.Err() != nil:
				return errWaitTimedOut
			case err != nil && !gone:
				e.log.V(1).Info("read failed, reading again", "object", k.String(), "error", err.Error())
				if !sleep(ctx, retryAfterReadError) {
					return errWaitTimedOut
				}
				continue
			}
			if ok, err := done(gone); err != nil || ok {
				return err
			}
			if gone {
				return fmt.Errorf("%s is gone", k)
			}
		}
		ok, err := e.watchOne(ctx, list, obj, done)
		if err != nil || ok {
			return err
		}
		if ctx.Err() != nil {
			return errWaitTimedOut
		}
		obj.SetResourceVersion("") // the watch ended early: read again, then watch from there
	}
}

// watchOne watches obj from its resourceVersion until done holds, done fails, or the watch ends
// (false, nil: the caller reads again).
func (e *Exposer) watchOne(ctx context.Context, list client.ObjectList, obj client.Object, done func(gone bool) (bool, error)) (bool, error) {
	opts := []client.ListOption{
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", obj.GetName())},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: obj.GetResourceVersion()}},
	}
	if obj.GetNamespace() != "" {
		opts = append(opts, client.InNamespace(obj.GetNamespace()))
	}
	w, err := e.client.Watch(ctx, list, opts...)
	if err != nil {
		e.log.V(1).Info("watch failed, reading again", "object", obj.GetName(), "error", err.Error())
		sleep(ctx, retryAfterReadError)
		return false, nil
	}
	defer w.Stop()
	for {
		var ev watch.Event
		select {
		case <-ctx.Done():
			return false, nil
		case e, open := <-w.ResultChan():
			if !open {
				return false, nil
			}
			ev = e
		}
		got, isObj := ev.Object.(client.Object)
		if !isObj || got.GetName() != obj.GetName() || got.GetNamespace() != obj.GetNamespace() {
			continue // an Error event (a version too old, say) or a bookmark: nothing of obj
		}
		switch ev.Type {
		case watch.Deleted:
			return done(true)
		case watch.Added, watch.Modified:
			if reflect.TypeOf(got) == reflect.TypeOf(obj) {
				reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(got).Elem())
			}
			if ok, err := done(false); err != nil || ok {
				return ok, err
			}
		}
	}
}

// listFor is the list type a watch of obj's kind needs.
func (e *Exposer) listFor(obj client.Object) (client.ObjectList, error) {
	gvk, err := apiutil.GVKForObject(obj, e.client.Scheme())
	if err != nil {
		return nil, fmt.Errorf("exposer: %w", err)
	}
	o, err := e.client.Scheme().New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err != nil {
		return nil, fmt.Errorf("exposer: %w", err)
	}
	list, ok := o.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("exposer: %s is not a list", gvk.Kind+"List")
	}
	return list, nil
}

// sleep waits d, or less when ctx ends first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
