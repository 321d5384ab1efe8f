package exposer

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// requests counts the reads and watches a wait makes, and tells when a watch has started.
type requests struct {
	gets, watches atomic.Int32
	watching      chan struct{}
}

func (r *requests) funcs(firstWatch func() watch.Interface) interceptor.Funcs {
	return interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
			r.gets.Add(1)
			return c.Get(ctx, k, o, opts...)
		},
		Watch: func(ctx context.Context, c client.WithWatch, l client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			if r.watches.Add(1) == 1 && firstWatch != nil {
				return firstWatch(), nil
			}
			w, err := c.Watch(ctx, l, opts...)
			select {
			case r.watching <- struct{}{}:
			default:
			}
			return w, err
		},
	}
}

func heldPV() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-held", Finalizers: []string{"test/hold"}}}
}

// release removes the finalizer that keeps the deleted PV.
func release(t *testing.T, c client.Client) {
	t.Helper()
	pv := &corev1.PersistentVolume{}
	mustGet(t, c, client.ObjectKey{Name: "pv-held"}, pv)
	pv.Finalizers = nil
	if err := c.Update(context.Background(), pv); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteAndWaitOfAReadObjectIsOneWatch(t *testing.T) {
	base := newCluster(t, heldPV())
	r := &requests{watching: make(chan struct{}, 1)}
	c := base.WithInterceptorFuncs(r.funcs(nil))
	pv := &corev1.PersistentVolume{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "pv-held"}, pv); err != nil {
		t.Fatal(err)
	}
	r.gets.Store(0)
	done := make(chan error, 1)
	go func() { done <- New(c).deleteAndWait(context.Background(), pv, time.Minute) }()
	select {
	case <-r.watching:
	case err := <-done:
		t.Fatalf("deleteAndWait returned before the PV was released: %v", err)
	}
	release(t, base)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g, w := r.gets.Load(), r.watches.Load(); g != 0 || w != 1 {
		t.Errorf("waiting for a deletion cost %d reads and %d watches, want 0 and 1", g, w)
	}
}

func TestWaitGoneReadsAgainWhenTheWatchEnds(t *testing.T) {
	base := newCluster(t, heldPV())
	r := &requests{watching: make(chan struct{}, 1)}
	ended := func() watch.Interface { w := watch.NewFake(); w.Stop(); return w }
	c := base.WithInterceptorFuncs(r.funcs(ended))
	if err := c.Delete(context.Background(), heldPV()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- New(c).waitGone(context.Background(), &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-held"}}, time.Minute)
	}()
	select {
	case <-r.watching:
	case err := <-done:
		t.Fatalf("waitGone returned before the PV was released: %v", err)
	}
	release(t, base)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g, w := r.gets.Load(), r.watches.Load(); g != 2 || w != 2 {
		t.Errorf("a wait whose first watch ended: %d reads and %d watches, want 2 and 2 (read, watch; read again, watch)", g, w)
	}
}

func TestWaitGoneTimesOut(t *testing.T) {
	c := newCluster(t, heldPV())
	err := New(c).waitGone(context.Background(), &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-held"}}, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "still exists after 50ms") {
		t.Errorf("waitGone of a PV that stays: %v, want it still exists after 50ms", err)
	}
}
