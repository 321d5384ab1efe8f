package conformance

import (
	"context"
	"fmt"
	"slices"
	"sync"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SnapshotWatch records the VolumeSnapshots of one namespace as they change, from before the
// Backup that makes them exists: Velero deletes the original VolumeSnapshot during the expose
// (B8), so what it said when it was ready is seen only as it happens.
type SnapshotWatch struct {
	mu    sync.Mutex
	sizes map[string]*resource.Quantity // VolumeSnapshot name -> its last status.restoreSize (nil: unset)
	ready map[string]bool               // VolumeSnapshot name -> it was seen readyToUse
	stop  context.CancelFunc
	done  chan struct{}
}

// WatchSnapshots starts watching the VolumeSnapshots of ns; Stop ends it.
func WatchSnapshots(ctx context.Context, c client.WithWatch, ns string) (*SnapshotWatch, error) {
	list := &snapshotv1.VolumeSnapshotList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing the VolumeSnapshots of %s: %w", ns, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &SnapshotWatch{sizes: map[string]*resource.Quantity{}, ready: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		w.see(&list.Items[i])
	}
	// The retry watcher resumes from the last resourceVersion seen when the server closes a watch.
	rw, err := watchtools.NewRetryWatcherWithContext(wctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return c.Watch(ctx, &snapshotv1.VolumeSnapshotList{}, client.InNamespace(ns), &client.ListOptions{Raw: &opts})
		}})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching the VolumeSnapshots of %s: %w", ns, err)
	}
	go func() {
		defer close(w.done)
		defer rw.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case ev, ok := <-rw.ResultChan():
				if !ok {
					return
				}
				if vs, ok := ev.Object.(*snapshotv1.VolumeSnapshot); ok {
					w.see(vs)
				}
			}
		}
	}()
	return w, nil
}

func (w *SnapshotWatch) see(vs *snapshotv1.VolumeSnapshot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.sizes[vs.Name]; !ok {
		w.sizes[vs.Name] = nil
	}
	if vs.Status == nil {
		return
	}
	if vs.Status.RestoreSize != nil {
		q := vs.Status.RestoreSize.DeepCopy()
		w.sizes[vs.Name] = &q
	}
	if vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse {
		w.ready[vs.Name] = true
	}
}

// Ready is the one VolumeSnapshot of the namespace seen ready and its restoreSize as it was then
// (nil when unset); ok is false until exactly one was seen ready.
func (w *SnapshotWatch) Ready() (name string, size *resource.Quantity, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for n := range w.ready {
		names = append(names, n)
	}
	if len(names) != 1 {
		return "", nil, false
	}
	slices.Sort(names)
	return names[0], w.sizes[names[0]], true
}

// Stop ends the watch and waits for it.
func (w *SnapshotWatch) Stop() {
	w.stop()
	<-w.done
}
