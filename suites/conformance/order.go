package conformance

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// D6 fixes the cleanup's order: the backupPod deleted, then the backupPVC, whose PV and claim are
// waited for (up to a minute) before the backupVS is deleted. The objects go within milliseconds
// of each other, and each kind comes through its own watch, so the order is read from the
// resourceVersions the deletions were written at: one etcd's revisions, which order every write
// of the cluster (the API calls them opaque; every apiserver on etcd3 numbers them so).

// deletionOrder records, per object, the revision its deletion was first seen at (its
// deletionTimestamp set, or the object gone with none seen) and the one it was gone at, and when
// each was seen here.
type deletionOrder struct {
	mu   sync.Mutex
	seen map[string]*deletion // "pod/<name>", "pvc/<name>", "pv/<claim>", "vs/<name>"
}

type deletion struct {
	requested, gone     uint64
	requestedAt, goneAt time.Time
}

// see records obj's state as of one watch event; a nil key skips it.
func (d *deletionOrder) see(key string, obj any, gone bool) {
	if key == "" {
		return
	}
	if _, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		d.mark(key, 0, true) // a relist missed the deletion: its revision is unknown
		return
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	rv, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	if err != nil {
		return
	}
	if gone || m.GetDeletionTimestamp() != nil {
		d.mark(key, rv, gone)
	}
}

func (d *deletionOrder) mark(key string, rv uint64, gone bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.seen[key]
	if e == nil {
		e = &deletion{}
		d.seen[key] = e
	}
	now := time.Now()
	if e.requestedAt.IsZero() {
		e.requested, e.requestedAt = rv, now
	}
	if gone {
		e.gone, e.goneAt = rv, now
	}
}

// problems are the ways the cleanup of the DataUpload du broke D6's order; judged says whether
// the deletions needed were all seen with their revisions.
func (d *deletionOrder) problems(du string) (problems []string, judged bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pod, pvc, pv, vs := d.seen["pod/"+du], d.seen["pvc/"+du], d.seen["pv/"+du], d.seen["vs/"+du]
	if pod == nil || pvc == nil || vs == nil || pod.requested == 0 || pvc.requested == 0 || pvc.gone == 0 || vs.requested == 0 {
		return nil, false
	}
	if pod.requested > pvc.requested {
		problems = append(problems, fmt.Sprintf("the backupPVC's deletion (revision %d) came before the backupPod's (%d)", pvc.requested, pod.requested))
	}
	// Velero waits up to a minute for the claim and its volume to go, then deletes the backupVS
	// anyway: past that, the order is not the system's to keep.
	if pvc.goneAt.Sub(pvc.requestedAt) < 55*time.Second && pvc.gone > vs.requested {
		problems = append(problems, fmt.Sprintf("the backupVS's deletion (revision %d) came before the backupPVC was gone (%d)", vs.requested, pvc.gone))
	}
	if pv != nil && pv.gone != 0 && pv.goneAt.Sub(pvc.requestedAt) < 55*time.Second && pv.gone > vs.requested {
		problems = append(problems, fmt.Sprintf("the backupVS's deletion (revision %d) came before the backup PV was gone (%d)", vs.requested, pv.gone))
	}
	return problems, true
}
