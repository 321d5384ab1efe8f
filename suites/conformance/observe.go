package conformance

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Observer records every backupPVC, backupPod, backup PV, copied secret and configmap, warning
// event, DataUpload and DataUpload phase of the Velero namespace as they happen. A fast system cleans them up within a second of a DataUpload
// completing, so the specs judge what was recorded, not what is still there when they look.
type Observer struct {
	mu       sync.Mutex
	pvcs     map[string]*corev1.PersistentVolumeClaim // latest state seen, kept after deletion
	pods     map[string]*corev1.Pod
	pvs      map[string]*corev1.PersistentVolume // by the name of the claim it was bound to
	secrets  map[string]*corev1.Secret
	cms      map[string]*corev1.ConfigMap
	warnings map[string]map[string]bool                  // involved object name -> "reason: message"
	phases   map[string][]velerov2alpha1.DataUploadPhase // DataUpload name -> each phase seen, in order
	uploads  map[string]*velerov2alpha1.DataUpload       // latest state seen, kept after deletion
	deleted  deletionOrder
}

// Observe starts informers on the Velero namespace (and PersistentVolumes) and waits for them to
// sync; they stop with ctx.
func Observe(ctx context.Context, cfg *rest.Config, veleroNS string) (*Observer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	o := &Observer{pvcs: map[string]*corev1.PersistentVolumeClaim{}, pods: map[string]*corev1.Pod{},
		pvs: map[string]*corev1.PersistentVolume{}, secrets: map[string]*corev1.Secret{}, cms: map[string]*corev1.ConfigMap{}, warnings: map[string]map[string]bool{}, phases: map[string][]velerov2alpha1.DataUploadPhase{},
		uploads: map[string]*velerov2alpha1.DataUpload{},
		deleted: deletionOrder{seen: map[string]*deletion{}}}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	duFactory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 10*time.Minute, veleroNS, nil)
	nsFactory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute, informers.WithNamespace(veleroNS))
	clusterFactory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	handlers := []struct {
		inf cache.SharedIndexInformer
		fn  func(any)
	}{
		{nsFactory.Core().V1().PersistentVolumeClaims().Informer(), o.seePVC},
		{nsFactory.Core().V1().Pods().Informer(), o.seePod},
		{nsFactory.Core().V1().Events().Informer(), o.seeEvent},
		{nsFactory.Core().V1().Secrets().Informer(), o.seeSecret},
		{nsFactory.Core().V1().ConfigMaps().Informer(), o.seeConfigMap},
		{clusterFactory.Core().V1().PersistentVolumes().Informer(), func(obj any) { o.seePV(obj, veleroNS) }},
		{duFactory.ForResource(velerov2alpha1.SchemeGroupVersion.WithResource("datauploads")).Informer(), o.seeDataUpload},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: h.fn, UpdateFunc: func(_, n any) { h.fn(n) }}); err != nil {
			return nil, err
		}
	}
	// The deletions of what the cleanup removes, for its order (D6).
	for _, d := range []struct {
		inf cache.SharedIndexInformer
		key func(any) string
	}{
		{nsFactory.Core().V1().Pods().Informer(), func(obj any) string { return "pod/" + nameOf(obj) }},
		{nsFactory.Core().V1().PersistentVolumeClaims().Informer(), func(obj any) string { return "pvc/" + nameOf(obj) }},
		{clusterFactory.Core().V1().PersistentVolumes().Informer(), func(obj any) string {
			if pv, ok := unwrap(obj).(*corev1.PersistentVolume); ok && pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Namespace == veleroNS {
				return "pv/" + pv.Spec.ClaimRef.Name
			}
			return ""
		}},
		{duFactory.ForResource(snapshotv1.SchemeGroupVersion.WithResource("volumesnapshots")).Informer(), func(obj any) string { return "vs/" + nameOf(obj) }},
	} {
		if _, err := d.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, n any) { o.deleted.see(d.key(n), n, false) },
			DeleteFunc: func(obj any) { o.deleted.see(d.key(obj), obj, true) },
		}); err != nil {
			return nil, err
		}
	}
	nsFactory.Start(ctx.Done())
	clusterFactory.Start(ctx.Done())
	duFactory.Start(ctx.Done())
	for _, gvr := range duFactory.WaitForCacheSync(ctx.Done()) {
		if !gvr {
			return nil, fmt.Errorf("observer: DataUploads did not sync")
		}
	}
	for _, synced := range []map[reflect.Type]bool{nsFactory.WaitForCacheSync(ctx.Done()), clusterFactory.WaitForCacheSync(ctx.Done())} {
		for typ, ok := range synced {
			if !ok {
				return nil, fmt.Errorf("observer: %v did not sync", typ)
			}
		}
	}
	return o, nil
}

func (o *Observer) seePVC(obj any) {
	if p, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		o.mu.Lock()
		o.pvcs[p.Name] = p.DeepCopy()
		o.mu.Unlock()
	}
}

func (o *Observer) seePod(obj any) {
	if p, ok := obj.(*corev1.Pod); ok {
		o.mu.Lock()
		o.pods[p.Name] = p.DeepCopy()
		o.mu.Unlock()
	}
}

func (o *Observer) seeSecret(obj any) {
	if x, ok := obj.(*corev1.Secret); ok {
		o.mu.Lock()
		o.secrets[x.Name] = x.DeepCopy()
		o.mu.Unlock()
	}
}

func (o *Observer) seeConfigMap(obj any) {
	if x, ok := obj.(*corev1.ConfigMap); ok {
		o.mu.Lock()
		o.cms[x.Name] = x.DeepCopy()
		o.mu.Unlock()
	}
}

// Secret is the last state of the Velero namespace's secret name seen, if it was ever seen.
func (o *Observer) Secret(name string) (*corev1.Secret, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	x, ok := o.secrets[name]
	return x, ok
}

// ConfigMap is the last state of the Velero namespace's configmap name seen, if it was ever seen.
func (o *Observer) ConfigMap(name string) (*corev1.ConfigMap, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	x, ok := o.cms[name]
	return x, ok
}

func (o *Observer) seePV(obj any, veleroNS string) {
	if p, ok := obj.(*corev1.PersistentVolume); ok && p.Spec.ClaimRef != nil && p.Spec.ClaimRef.Namespace == veleroNS {
		o.mu.Lock()
		o.pvs[p.Spec.ClaimRef.Name] = p.DeepCopy()
		o.mu.Unlock()
	}
}

func (o *Observer) seeDataUpload(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	du := &velerov2alpha1.DataUpload{}
	if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, du) != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.uploads[du.Name] = du
	if du.Status.Phase == "" {
		return
	}
	if seen := o.phases[du.Name]; len(seen) == 0 || seen[len(seen)-1] != du.Status.Phase {
		o.phases[du.Name] = append(seen, du.Status.Phase)
	}
}

// CleanupOrder says how the cleanup of the DataUpload du broke D6's order; judged is false when
// not every deletion it needs was seen with its revision.
func (o *Observer) CleanupOrder(du string) (problems []string, judged bool) {
	return o.deleted.problems(du)
}

// unwrap is the object of a deletion event whose final state a relist missed.
func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// nameOf is an object's name ("" if it has none).
func nameOf(obj any) string {
	m, err := meta.Accessor(unwrap(obj))
	if err != nil {
		return ""
	}
	return m.GetName()
}

// DataUpload is the last state of the DataUpload name seen, if it was ever seen. The specs wait on
// it rather than asking the API server every 200 ms: those polls were one request in eight of a run.
func (o *Observer) DataUpload(name string) (*velerov2alpha1.DataUpload, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	du, ok := o.uploads[name]
	if !ok {
		return nil, false
	}
	return du.DeepCopy(), true
}

// DataUploadOf is the last state seen of the DataUpload of the Backup named backup (by Velero's
// backup-name label), if one was seen.
func (o *Observer) DataUploadOf(backup string) (*velerov2alpha1.DataUpload, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, du := range o.uploads {
		if du.Labels[velerov1.BackupNameLabel] == backup {
			return du.DeepCopy(), true
		}
	}
	return nil, false
}

// Phases are the phases the DataUpload name was seen in, in order.
func (o *Observer) Phases(name string) []velerov2alpha1.DataUploadPhase {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.phases[name])
}

func (o *Observer) seeEvent(obj any) {
	e, ok := obj.(*corev1.Event)
	if !ok || e.Type != corev1.EventTypeWarning {
		return
	}
	msg := e.Reason + ": " + e.Message
	if len(msg) > 600 {
		msg = msg[:600] + "..."
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.warnings[e.InvolvedObject.Name] == nil {
		o.warnings[e.InvolvedObject.Name] = map[string]bool{}
	}
	o.warnings[e.InvolvedObject.Name][msg] = true
}

// PVC is the last state of the backupPVC name seen, if it was ever seen.
func (o *Observer) PVC(name string) (*corev1.PersistentVolumeClaim, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pvcs[name]
	return p, ok
}

// Pod is the last state of the pod name seen.
func (o *Observer) Pod(name string) (*corev1.Pod, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pods[name]
	return p, ok
}

// PV is the volume that was bound to the backupPVC claim, if any was.
func (o *Observer) PV(claim string) (*corev1.PersistentVolume, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pvs[claim]
	return p, ok
}

// Warnings are the warning events seen about the object name.
func (o *Observer) Warnings(name string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for w := range o.warnings[name] {
		out = append(out, w)
	}
	return out
}
