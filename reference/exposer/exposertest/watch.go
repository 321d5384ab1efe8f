package exposertest

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// WithAPIServerWatch wraps a fake client so that a watch of one object (field selector
// metadata.name) sees only that object, and starts with what happened since the resourceVersion
// it asks for, as the API server's does: DELETED when the object is gone by then, MODIFIED when it
// changed. The fake alone watches every object of the kind and only from the watch's start on.
func WithAPIServerWatch(c client.WithWatch) client.WithWatch {
	return interceptor.NewClient(c, interceptor.Funcs{Watch: watchOne})
}

func watchOne(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	lo := &client.ListOptions{}
	lo.ApplyOptions(opts)
	var name string
	if lo.FieldSelector != nil {
		name, _ = lo.FieldSelector.RequiresExactMatch("metadata.name")
	}
	base, err := c.Watch(ctx, list, opts...)
	if err != nil || name == "" {
		return base, err
	}
	since := ""
	if lo.Raw != nil {
		since = lo.Raw.ResourceVersion
	}
	gvk, err := apiutil.GVKForObject(list, c.Scheme())
	if err != nil {
		base.Stop()
		return nil, err
	}
	o, err := c.Scheme().New(gvk.GroupVersion().WithKind(strings.TrimSuffix(gvk.Kind, "List")))
	if err != nil {
		base.Stop()
		return nil, err
	}
	cur := o.(client.Object)
	err = c.Get(ctx, client.ObjectKey{Namespace: lo.Namespace, Name: name}, cur)
	var first *watch.Event
	switch {
	case apierrors.IsNotFound(err):
		cur.SetName(name)
		cur.SetNamespace(lo.Namespace)
		first = &watch.Event{Type: watch.Deleted, Object: cur}
	case err != nil:
		base.Stop()
		return nil, err
	case cur.GetResourceVersion() != since:
		first = &watch.Event{Type: watch.Modified, Object: cur}
	}
	out := make(chan watch.Event)
	w := watch.NewProxyWatcher(out)
	go func() {
		defer close(out)
		defer base.Stop()
		send := func(ev watch.Event) bool {
			select {
			case out <- ev:
				return true
			case <-w.StopChan():
				return false
			}
		}
		if first != nil && !send(*first) {
			return
		}
		for {
			select {
			case <-w.StopChan():
				return
			case ev, ok := <-base.ResultChan():
				if !ok {
					return
				}
				if m, isObj := ev.Object.(client.Object); isObj && m.GetName() == name && m.GetNamespace() == lo.Namespace && !send(ev) {
					return
				}
			}
		}
	}()
	return w, nil
}
