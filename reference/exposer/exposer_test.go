package exposer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerotypes "github.com/vmware-tanzu/velero/pkg/types"
	"github.com/vmware-tanzu/velero/pkg/util/kube"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

const (
	veleroNS = "velero"
	appNS    = "app"
	duName   = "backup-1-abcde"
	duUID    = "du-uid-1"
)

var owner = corev1.ObjectReference{APIVersion: "velero.io/v2alpha1", Kind: "DataUpload", Namespace: veleroNS, Name: duName, UID: duUID}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := snapshotv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a source PVC's snapshot as Velero's CSI plugin leaves it: ready, bound to content.
func fixture(restoreSize string) []client.Object {
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "velero-data-xyz", Annotations: map[string]string{"a": "b"}},
		Spec:       snapshotv1.VolumeSnapshotSpec{VolumeSnapshotClassName: ptr.To("snapclass")},
		Status: &snapshotv1.VolumeSnapshotStatus{
			BoundVolumeSnapshotContentName: ptr.To("snapcontent-1"),
			ReadyToUse:                     ptr.To(true),
		},
	}
	if restoreSize != "" {
		vs.Status.RestoreSize = ptr.To(resource.MustParse(restoreSize))
	}
	vsc := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: "snapcontent-1", Labels: map[string]string{ManagedByLabel: "node-1"}},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			Driver: "emulator.csi.backuppvc.io", VolumeSnapshotClassName: ptr.To("snapclass"),
			DeletionPolicy:    snapshotv1.VolumeSnapshotContentDelete,
			VolumeSnapshotRef: corev1.ObjectReference{Namespace: appNS, Name: "velero-data-xyz"},
		},
		Status: &snapshotv1.VolumeSnapshotContentStatus{SnapshotHandle: ptr.To("snap-handle-1"), ReadyToUse: ptr.To(true)},
	}
	return []client.Object{vs, vsc}
}

func params(mutate ...func(*Params)) Params {
	p := Params{
		SnapshotName: "velero-data-xyz", SourceNamespace: appNS, SourcePVCName: "data", SourcePVName: "pv-data",
		StorageClass: "gold", VolumeMode: corev1.PersistentVolumeFilesystem, VolumeSize: resource.MustParse("3Gi"),
		PodLabels: map[string]string{"velero.io/data-upload": duName}, Image: "data-mover:test",
		OperationTimeout: 10 * time.Second, ExposeTimeout: 2 * time.Second,
	}
	for _, m := range mutate {
		m(&p)
	}
	return p
}

// wantPVC is the backupPVC spec B fixes, written out in full.
func wantPVC(class string, mode corev1.PersistentVolumeAccessMode, size string, volumeMode corev1.PersistentVolumeMode, annotations map[string]string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: veleroNS, Name: duName, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "velero.io/v2alpha1", Kind: "DataUpload", Name: duName, UID: duUID, Controller: ptr.To(true)}},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			StorageClassName: ptr.To(class),
			VolumeMode:       ptr.To(volumeMode),
			DataSource:       &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: duName},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

// wantPod is the backupPod spec C fixes for a read-write Filesystem volume with no loadAffinity.
func wantPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: veleroNS, Name: duName,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "velero.io/v2alpha1", Kind: "DataUpload", Name: duName, UID: duUID, Controller: ptr.To(true)}},
			Labels:          map[string]string{"velero.io/data-upload": duName, "velero.io/exposer-pod-group": "snapshot-exposer"},
		},
		Spec: corev1.PodSpec{
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"velero.io/exposer-pod-group": "snapshot-exposer"}}}},
			OS: &corev1.PodOS{Name: "linux"},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"windows"}}}}}}}},
			Containers: []corev1.Container{{
				Name: duUID, Image: "data-mover:test", ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"/velero", "data-mover", "backup"},
				Args:         []string{"--volume-path=/" + duUID, "--volume-mode=Filesystem", "--data-upload=" + duName, "--resource-timeout=10s"},
				VolumeMounts: []corev1.VolumeMount{{Name: duUID, MountPath: "/" + duUID}},
			}},
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Volumes: []corev1.Volume{{Name: duUID, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: duName}}}},
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(0))},
		},
	}
}

func readOnlyPod(p *corev1.Pod) {
	p.Spec.Volumes[0].PersistentVolumeClaim.ReadOnly = true
	p.Spec.Containers[0].VolumeMounts[0].ReadOnly = true
}

// stripServerFields drops what the API server (here the fake) sets.
func stripServerFields(o client.Object) {
	o.SetResourceVersion("")
	o.SetCreationTimestamp(metav1.Time{})
	o.SetManagedFields(nil)
	o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
}

func TestExpose(t *testing.T) {
	cfg := func(entries map[string]velerotypes.BackupPVC) func(*Params) {
		return func(p *Params) { p.BackupPVCConfig = entries }
	}
	tests := []struct {
		name        string
		restoreSize string
		params      Params
		wantPVC     *corev1.PersistentVolumeClaim
		podChange   func(*corev1.Pod)
	}{
		{name: "B2 C1 no entry: source class, ReadWriteOnce, no annotations; the whole pod", restoreSize: "1Gi",
			params:  params(cfg(map[string]velerotypes.BackupPVC{"silver": {StorageClass: "x", ReadOnly: true}})),
			wantPVC: wantPVC("gold", corev1.ReadWriteOnce, "1Gi", corev1.PersistentVolumeFilesystem, nil)},
		{name: "B3 B4 empty storageClass falls back, readOnly gives only ReadOnlyMany; C2 read-only volume", restoreSize: "1Gi",
			params:    params(cfg(map[string]velerotypes.BackupPVC{"gold": {ReadOnly: true}})),
			wantPVC:   wantPVC("gold", corev1.ReadOnlyMany, "1Gi", corev1.PersistentVolumeFilesystem, nil),
			podChange: readOnlyPod},
		{name: "B4 B5 override class, readOnly, annotations; C3 spc_t", restoreSize: "1Gi",
			params: params(cfg(map[string]velerotypes.BackupPVC{"gold": {StorageClass: "bronze", ReadOnly: true, SPCNoRelabeling: true,
				Annotations: map[string]string{"fast": "true"}}})),
			wantPVC: wantPVC("bronze", corev1.ReadOnlyMany, "1Gi", corev1.PersistentVolumeFilesystem, map[string]string{"fast": "true"}),
			podChange: func(p *corev1.Pod) {
				readOnlyPod(p)
				p.Spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"}
			}},
		{name: "B9 C3 spcNoRelabeling without readOnly is ignored", restoreSize: "1Gi",
			params:  params(cfg(map[string]velerotypes.BackupPVC{"gold": {StorageClass: "bronze", SPCNoRelabeling: true}})),
			wantPVC: wantPVC("bronze", corev1.ReadWriteOnce, "1Gi", corev1.PersistentVolumeFilesystem, nil)},
		{name: "B7 zero restoreSize falls back to the source request", restoreSize: "0",
			params:  params(),
			wantPVC: wantPVC("gold", corev1.ReadWriteOnce, "3Gi", corev1.PersistentVolumeFilesystem, nil)},
		{name: "B7 missing restoreSize falls back to the source request", restoreSize: "",
			params:  params(),
			wantPVC: wantPVC("gold", corev1.ReadWriteOnce, "3Gi", corev1.PersistentVolumeFilesystem, nil)},
		{name: "B6 C2 Block source: block backupPVC, device not mount", restoreSize: "1Gi",
			params:  params(func(p *Params) { p.VolumeMode = corev1.PersistentVolumeBlock }, cfg(map[string]velerotypes.BackupPVC{"gold": {ReadOnly: true}})),
			wantPVC: wantPVC("gold", corev1.ReadOnlyMany, "1Gi", corev1.PersistentVolumeBlock, nil),
			podChange: func(p *corev1.Pod) {
				p.Spec.Volumes[0].PersistentVolumeClaim.ReadOnly = true
				p.Spec.Containers[0].VolumeMounts = nil
				p.Spec.Containers[0].VolumeDevices = []corev1.VolumeDevice{{Name: duUID, DevicePath: "/" + duUID}}
				p.Spec.Containers[0].Args[1] = "--volume-mode=Block"
			}},
		{name: "C5 loadAffinity is matched on the backupPVC's class, not the source's", restoreSize: "1Gi",
			params: params(cfg(map[string]velerotypes.BackupPVC{"gold": {StorageClass: "bronze"}}), func(p *Params) {
				p.LoadAffinity = []*kube.LoadAffinity{
					{StorageClass: "gold", NodeSelector: metav1.LabelSelector{MatchLabels: map[string]string{"zone": "source"}}},
					{StorageClass: "bronze", NodeSelector: metav1.LabelSelector{MatchLabels: map[string]string{"zone": "backup"}}},
				}
			}),
			wantPVC: wantPVC("bronze", corev1.ReadWriteOnce, "1Gi", corev1.PersistentVolumeFilesystem, nil),
			podChange: func(p *corev1.Pod) {
				terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
				terms[0].MatchExpressions = append([]corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"backup"}}}, terms[0].MatchExpressions...)
			}},
		{name: "C4 configured pod labels and annotations", restoreSize: "1Gi",
			params: params(func(p *Params) {
				p.PodLabels["team"] = "storage"
				p.PodAnnotations = map[string]string{"note": "x"}
			}),
			wantPVC: wantPVC("gold", corev1.ReadWriteOnce, "1Gi", corev1.PersistentVolumeFilesystem, nil),
			podChange: func(p *corev1.Pod) {
				p.Labels["team"] = "storage"
				p.Annotations = map[string]string{"note": "x"}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, fixture(tc.restoreSize)...)
			e := New(c)
			if err := e.Expose(context.Background(), owner, tc.params); err != nil {
				t.Fatalf("Expose: %v", err)
			}
			pvc := &corev1.PersistentVolumeClaim{}
			mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: duName}, pvc)
			if diff := cmp.Diff(tc.wantPVC, pvc); diff != "" {
				t.Errorf("backupPVC (-want +got):\n%s", diff)
			}
			want := wantPod()
			if tc.podChange != nil {
				tc.podChange(want)
			}
			pod := &corev1.Pod{}
			mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: duName}, pod)
			if diff := cmp.Diff(want, pod); diff != "" {
				t.Errorf("backupPod (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExposeB8SnapshotObjectsAndOrder(t *testing.T) {
	var calls []string
	record := func(verb string, o client.Object) {
		calls = append(calls, fmt.Sprintf("%s %T %s", verb, o, client.ObjectKeyFromObject(o)))
	}
	c := newCluster(t, fixture("1Gi")...).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			record("create", o)
			return c.Create(ctx, o, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			record("delete", o)
			return c.Delete(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			record("patch", o)
			return c.Patch(ctx, o, p, opts...)
		},
	})
	var retained snapshotv1.DeletionPolicy
	c2 := interceptor.NewClient(c, interceptor.Funcs{Patch: func(ctx context.Context, cl client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
		if vsc, ok := o.(*snapshotv1.VolumeSnapshotContent); ok {
			retained = vsc.Spec.DeletionPolicy
		}
		return cl.Patch(ctx, o, p, opts...)
	}})
	if err := New(c2).Expose(context.Background(), owner, params()); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"create *v1.VolumeSnapshot velero/" + duName,
		"create *v1.VolumeSnapshotContent /" + duName,
		"patch *v1.VolumeSnapshotContent /snapcontent-1",
		"delete *v1.VolumeSnapshot app/velero-data-xyz",
		"delete *v1.VolumeSnapshotContent /snapcontent-1",
		"create *v1.PersistentVolumeClaim velero/" + duName,
		"create *v1.Pod velero/" + duName,
	}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Errorf("B8 order (-want +got):\n%s", diff)
	}
	if retained != snapshotv1.VolumeSnapshotContentRetain {
		t.Errorf("B8 original content deletionPolicy set to %q, want Retain", retained)
	}

	vs := &snapshotv1.VolumeSnapshot{}
	mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: duName}, vs)
	wantVS := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: duName, Annotations: map[string]string{"a": "b"}},
		Spec: snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{VolumeSnapshotContentName: ptr.To(duName)},
			VolumeSnapshotClassName: ptr.To("snapclass")},
	}
	if diff := cmp.Diff(wantVS, vs); diff != "" {
		t.Errorf("B8 backupVS (-want +got):\n%s", diff)
	}
	vsc := &snapshotv1.VolumeSnapshotContent{}
	mustGet(t, c, client.ObjectKey{Name: duName}, vsc)
	wantVSC := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: duName, Labels: map[string]string{ManagedByLabel: "node-1"}},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			VolumeSnapshotRef: corev1.ObjectReference{Namespace: veleroNS, Name: duName, UID: vs.UID},
			Source:            snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: ptr.To("snap-handle-1")},
			DeletionPolicy:    snapshotv1.VolumeSnapshotContentDelete, Driver: "emulator.csi.backuppvc.io", VolumeSnapshotClassName: ptr.To("snapclass"),
		},
	}
	vsc.Spec.VolumeSnapshotRef.ResourceVersion = ""
	if diff := cmp.Diff(wantVSC, vsc); diff != "" {
		t.Errorf("B8 backupVSC (-want +got):\n%s", diff)
	}
	for _, gone := range []client.Object{&snapshotv1.VolumeSnapshot{}, &snapshotv1.VolumeSnapshotContent{}} {
		k := client.ObjectKey{Namespace: appNS, Name: "velero-data-xyz"}
		if _, ok := gone.(*snapshotv1.VolumeSnapshotContent); ok {
			k = client.ObjectKey{Name: "snapcontent-1"}
		}
		if err := c.Get(context.Background(), k, gone); err == nil {
			t.Errorf("B8 original %T %s still exists", gone, k)
		}
	}
}

func TestExposeB8RollbackOnFailure(t *testing.T) {
	for _, failOn := range []string{"*v1.VolumeSnapshotContent", "*v1.PersistentVolumeClaim", "*v1.Pod"} {
		t.Run("B8 fail creating "+failOn, func(t *testing.T) {
			c := newCluster(t, fixture("1Gi")...).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
					if fmt.Sprintf("%T", o) == failOn {
						return errors.New("injected")
					}
					return c.Create(ctx, o, opts...)
				},
			})
			err := New(c).Expose(context.Background(), owner, params())
			if err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("Expose error = %v, want the injected one", err)
			}
			assertNothingOfOwner(t, c)
		})
	}
}

func TestExposeSnapshotProblems(t *testing.T) {
	notReady := fixture("1Gi")
	notReady[0].(*snapshotv1.VolumeSnapshot).Status.ReadyToUse = ptr.To(false)
	notReady[0].(*snapshotv1.VolumeSnapshot).Status.Error = &snapshotv1.VolumeSnapshotError{Message: ptr.To("driver says no")}
	tests := []struct {
		name    string
		objects []client.Object
		want    string
	}{
		{name: "B8 missing snapshot fails at once", want: "volume snapshot app/velero-data-xyz not found"},
		{name: "B8 snapshot never ready fails at the expose timeout with its error", objects: notReady, want: "not ready after 50ms: volume snapshot app/velero-data-xyz has error: driver says no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.objects...)
			err := New(c).Expose(context.Background(), owner, params(func(p *Params) { p.ExposeTimeout = 50 * time.Millisecond }))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			assertNothingOfOwner(t, c)
		})
	}
}

func TestExposeB10CopiesSecretsAndConfigMaps(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "kms"}, Data: map[string][]byte{"k": []byte("v")}}
	cmap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "vault"}, Data: map[string]string{"a": "b"}}
	entry := map[string]velerotypes.BackupPVC{"gold": {SecretNames: []string{"kms"}, ConfigMapNames: []string{"vault"}}}

	t.Run("B10 copies are labelled with the owner UID and removed at cleanup", func(t *testing.T) {
		c := newCluster(t, append(fixture("1Gi"), secret, cmap)...)
		e := New(c)
		if err := e.Expose(context.Background(), owner, params(func(p *Params) { p.BackupPVCConfig = entry })); err != nil {
			t.Fatal(err)
		}
		got := &corev1.Secret{}
		mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: "kms"}, got)
		want := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "kms", Labels: map[string]string{BackupPVCSecretLabel: duUID}}, Data: secret.Data}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("B10 copied secret (-want +got):\n%s", diff)
		}
		gotCM := &corev1.ConfigMap{}
		mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: "vault"}, gotCM)
		if gotCM.Labels[BackupPVCSecretLabel] != duUID || gotCM.Data["a"] != "b" {
			t.Errorf("B10 copied configmap = %+v", gotCM)
		}
		e.CleanUp(context.Background(), owner, "velero-data-xyz", appNS)
		assertNothingOfOwner(t, c)
	})
	// As Velero's kube.CopySecret: only this owner's own copy of the same data is reused.
	for _, tc := range []struct {
		name   string
		labels map[string]string
		data   string
	}{
		{name: "B10 other data of the same name is a collision", data: "other"},
		{name: "B10 the same data not labelled as this owner's copy is a collision", data: "v"},
		{name: "B10 another owner's copy of the same data is a collision", data: "v", labels: map[string]string{BackupPVCSecretLabel: "someone-else"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "kms", Labels: tc.labels}, Data: map[string][]byte{"k": []byte(tc.data)}}
			c := newCluster(t, append(fixture("1Gi"), secret, cmap, other)...)
			err := New(c).Expose(context.Background(), owner, params(func(p *Params) { p.BackupPVCConfig = entry }))
			want := "error copying secret kms from app to velero: secret collision: same name exists with different data"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want %q", err, want)
			}
			kept := &corev1.Secret{}
			mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: "kms"}, kept)
			if string(kept.Data["k"]) != tc.data || !maps.Equal(kept.Labels, tc.labels) {
				t.Errorf("B10 the colliding secret was changed: %+v", kept)
			}
			assertNothingOfOwner(t, c)
		})
	}
	t.Run("B10 this owner's own copy of the same data is reused", func(t *testing.T) {
		own := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "kms", Labels: map[string]string{BackupPVCSecretLabel: duUID}}, Data: secret.Data}
		c := newCluster(t, append(fixture("1Gi"), secret, cmap, own)...)
		if err := New(c).Expose(context.Background(), owner, params(func(p *Params) { p.BackupPVCConfig = entry })); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExposeIsIdempotent(t *testing.T) {
	c := newCluster(t, fixture("1Gi")...)
	e := New(c)
	if err := e.Expose(context.Background(), owner, params()); err != nil {
		t.Fatal(err)
	}
	// A second run (a restarted controller) finds the original snapshot gone: it must fail without
	// duplicating anything, and a run on leftovers of the same owner must reuse them.
	pvc := &corev1.PersistentVolumeClaim{}
	mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: duName}, pvc)
	if err := e.createOrReuse(context.Background(), buildBackupPVC(owner, duName, backupPVCSettings{storageClass: "gold"}, corev1.PersistentVolumeFilesystem, resource.MustParse("1Gi")), &corev1.PersistentVolumeClaim{}); err != nil {
		t.Fatalf("reusing our own backupPVC: %v", err)
	}
	stranger := owner
	stranger.UID = "someone-else"
	if err := e.createOrReuse(context.Background(), buildBackupPVC(stranger, duName, backupPVCSettings{storageClass: "gold"}, corev1.PersistentVolumeFilesystem, resource.MustParse("1Gi")), &corev1.PersistentVolumeClaim{}); err == nil {
		t.Fatal("a backupPVC of another owner was reused")
	}
}

func TestCleanUpD6(t *testing.T) {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-backup"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain}}
	var order []string
	var policyAtDelete corev1.PersistentVolumeReclaimPolicy
	c := newCluster(t, append(fixture("1Gi"), pv)...).WithInterceptorFuncs(interceptor.Funcs{
		Delete: func(ctx context.Context, cl client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			order = append(order, fmt.Sprintf("%T %s", o, o.GetName()))
			if _, ok := o.(*corev1.PersistentVolumeClaim); ok {
				// Stand in for the provisioner: a Delete-policy PV goes with its claim.
				cur := &corev1.PersistentVolume{}
				if err := cl.Get(ctx, client.ObjectKey{Name: "pv-backup"}, cur); err == nil {
					policyAtDelete = cur.Spec.PersistentVolumeReclaimPolicy
					if policyAtDelete == corev1.PersistentVolumeReclaimDelete {
						_ = cl.Delete(ctx, cur)
					}
				}
			}
			return cl.Delete(ctx, o, opts...)
		},
		DeleteAllOf: func(ctx context.Context, cl client.WithWatch, o client.Object, opts ...client.DeleteAllOfOption) error {
			order = append(order, fmt.Sprintf("%T all", o))
			return cl.DeleteAllOf(ctx, o, opts...)
		},
	})
	e := New(c)
	if err := e.Expose(context.Background(), owner, params()); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	mustGet(t, c, client.ObjectKey{Namespace: veleroNS, Name: duName}, pvc)
	pvc.Spec.VolumeName = "pv-backup"
	if err := c.Update(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	order = nil
	e.CleanUp(context.Background(), owner, "velero-data-xyz", appNS)
	want := []string{"*v1.Pod " + duName, "*v1.PersistentVolumeClaim " + duName, "*v1.Secret all", "*v1.ConfigMap all",
		"*v1.VolumeSnapshot " + duName, "*v1.VolumeSnapshot velero-data-xyz"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("D6 order (-want +got):\n%s", diff)
	}
	if policyAtDelete != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("D6 PV reclaim policy when the PVC was deleted = %q, want Delete", policyAtDelete)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "pv-backup"}, &corev1.PersistentVolume{}); err == nil {
		t.Error("D6 backup PV left behind")
	}
}

func TestPeekExposedD3(t *testing.T) {
	tests := []struct {
		name   string
		status corev1.PodStatus
		want   string
	}{
		{name: "D3 pending unschedulable is recoverable", status: corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}}},
		{name: "D3 running", status: corev1.PodStatus{Phase: corev1.PodRunning}},
		{name: "D3 failed", status: corev1.PodStatus{Phase: corev1.PodFailed, Message: "evicted"}, want: "Pod is in abnormal state [Failed], message [evicted/]"},
		// Velero's words, to the trailing slash after each container's message.
		{name: "D3 failed container", status: corev1.PodStatus{Phase: corev1.PodFailed, Message: "cannot start", ContainerStatuses: []corev1.ContainerStatus{
			{Name: duUID, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "start failure"}}}}},
			want: "Pod is in abnormal state [Failed], message [cannot start/start failure/]"},
		{name: "D3 unknown", status: corev1.PodStatus{Phase: corev1.PodUnknown}, want: "Pod is in abnormal state [Unknown], message []"},
		{name: "D3 image pull back-off", status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{Name: duUID, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}},
			want: "Container du-uid-1 in Pod velero/backup-1-abcde is in pull image failed with reason ImagePullBackOff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: duName}, Status: tc.status}
			c := newCluster(t, pod)
			err := New(c).PeekExposed(context.Background(), owner)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("PeekExposed = %q, want %q", got, tc.want)
			}
		})
	}
}

// With WithPodReader, PeekExposed and GetExposed look at the backupPod through that reader (the
// controllers' cache), not through the Exposer's direct client, which here has no pod at all.
func TestWithPodReader(t *testing.T) {
	direct := newCluster(t)
	failed := newCluster(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: duName}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Message: "evicted"}})
	if err := New(direct, WithPodReader(failed)).PeekExposed(context.Background(), owner); err == nil {
		t.Error("PeekExposed did not read the Failed backupPod through the pod reader")
	}
	running := newCluster(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: duName}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	if _, err := New(direct, WithPodReader(running)).GetExposed(context.Background(), owner); err == nil || !strings.Contains(err.Error(), "backup pvc") {
		t.Errorf("GetExposed = %v, want it to find the running backupPod through the pod reader and its backupPVC missing from the direct client", err)
	}
}

func TestDiagnoseD5(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: duName, UID: "pvc-uid"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "ev1"}, Type: corev1.EventTypeWarning, Reason: "ProvisioningFailed",
		Message: `storageclass.storage.k8s.io "nope" not found`, InvolvedObject: corev1.ObjectReference{UID: "pvc-uid"}}
	c := newCluster(t, pvc, ev)
	got := New(c).Diagnose(context.Background(), owner)
	want := "begin diagnose CSI exposer\n" +
		`error getting backup pod backup-1-abcde, err: pods "backup-1-abcde" not found` + "\n" +
		`error getting backup vs backup-1-abcde, err: volumesnapshots.snapshot.storage.k8s.io "backup-1-abcde" not found` + "\n" +
		"PVC velero/backup-1-abcde, phase Pending, binding to \n" +
		`PVC event reason ProvisioningFailed, message storageclass.storage.k8s.io "nope" not found` + "\n" +
		"end diagnose CSI exposer"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("D5 diagnosis (-want +got):\n%s", diff)
	}
}

func mustGet(t *testing.T, c client.Client, k client.ObjectKey, o client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), k, o); err != nil {
		t.Fatalf("get %T %s: %v", o, k, err)
	}
	stripServerFields(o)
}

// assertNothingOfOwner fails when any object Expose makes for owner still exists.
func assertNothingOfOwner(t *testing.T, c client.Client) {
	t.Helper()
	k := client.ObjectKey{Namespace: veleroNS, Name: duName}
	for _, o := range []client.Object{&corev1.Pod{}, &corev1.PersistentVolumeClaim{}, &snapshotv1.VolumeSnapshot{}} {
		if err := c.Get(context.Background(), k, o); err == nil {
			t.Errorf("%T %s left behind", o, k)
		}
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: duName}, &snapshotv1.VolumeSnapshotContent{}); err == nil {
		t.Errorf("backupVSC %s left behind", duName)
	}
	for _, l := range []client.ObjectList{&corev1.SecretList{}, &corev1.ConfigMapList{}} {
		if err := c.List(context.Background(), l, client.MatchingLabels{BackupPVCSecretLabel: duUID}); err != nil {
			t.Fatal(err)
		}
		if n := meta.LenList(l); n > 0 {
			t.Errorf("%d copied objects left behind", n)
		}
	}
}
