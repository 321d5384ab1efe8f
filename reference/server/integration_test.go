package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/internal/modsrc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/reference/controller"
)

func init() { ctrllog.SetLogger(logr.Discard()) }

const (
	veleroNS = "velero"
	appNS    = "app"
	driver   = "emulator.csi.backuppvc.io"
	saUser   = "system:serviceaccount:velero:backuppvc-reference"
)

// apiServer starts etcd and kube-apiserver (the pinned upstream binaries, RBAC on) with the
// snapshot and Velero CRDs and the reference's RBAC applied; it returns an admin client and the
// rest config of the reference's service account.
func apiServer(t *testing.T) (client.Client, *rest.Config) {
	t.Helper()
	bins := toolchain.RequireIntegration(t, [2]string{"kubernetes", "kube-apiserver"}, [2]string{"etcd", "etcd"})
	crds, err := modsrc.CRDPaths()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     crds,
		ErrorIfCRDPathMissing: true,
		ControlPlane: envtest.ControlPlane{
			// No controller-manager runs here, so nothing would make default service accounts
			// or lift the pvc-protection finalizer: leave those admission plugins out.
			APIServer: apiServerWithout(bins["kube-apiserver"], "ServiceAccount", "StorageObjectInUseProtection"),
			Etcd:      &envtest.Etcd{Path: bins["etcd"]},
		},
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver: %v", err)
		}
	})
	admin, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{veleroNS, appNS} {
		must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	applyFile(t, admin, filepath.Join(toolchain.RepoRoot(), "reference", "deploy", "rbac.yaml"))
	user, err := env.AddUser(envtest.User{Name: saUser, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:velero"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return admin, user.Config()
}

// apiServerWithout is kube-apiserver with the named admission plugins disabled.
func apiServerWithout(path string, plugins ...string) *envtest.APIServer {
	s := &envtest.APIServer{Path: path}
	s.Configure().Set("disable-admission-plugins", plugins...)
	return s
}

func applyFile(t *testing.T, c client.Client, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &obj.Object); err != nil || len(obj.Object) == 0 {
			continue
		}
		must(t, c.Create(context.Background(), obj))
	}
}

// logBuffer collects the reference's log lines for assertions and for the failure report.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logBuffer) Write(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(s + "\n")
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func startReference(t *testing.T, cfg *rest.Config, o Options) (*logBuffer, <-chan error) {
	t.Helper()
	logs := &logBuffer{}
	o.Log = funcr.NewJSON(func(obj string) { logs.Write(obj) }, funcr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("reference exited: %v", err)
		}
		if t.Failed() {
			t.Logf("reference log:\n%s", logs.String())
		}
	})
	return logs, done
}

func TestIntegrationBackupUnderLeastPrivilegeRBAC(t *testing.T) {
	admin, saConfig := apiServer(t)
	ctx := context.Background()

	// The workload: two PVCs; gold's backupPVC goes to bronze read-only, silver's to a class that
	// does not exist (it will wait for the prepare timeout).
	for _, sc := range []string{"gold", "silver", "bronze"} {
		must(t, admin.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: driver}))
	}
	must(t, admin.Create(ctx, &snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: "snapclass",
		Labels: map[string]string{controller.SnapshotClassLabel: "true"}}, Driver: driver, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete}))
	for _, v := range []struct{ pvc, class string }{{"data", "gold"}, {"logs", "silver"}} {
		boundPVC(t, admin, appNS, v.pvc, v.class, "pv-"+v.pvc)
	}
	must(t, admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "node-agent-config"},
		Data: map[string]string{"node-agent-config.json": `{"backupPVC":{"gold":{"storageClass":"bronze","readOnly":true},"silver":{"storageClass":"does-not-exist"}}}`}}))

	o := DefaultOptions()
	o.NodeAgentConfigMap = "node-agent-config"
	o.PrepareTimeout = 4 * time.Second
	o.PrepareCheckInterval = 100 * time.Millisecond
	logs, _ := startReference(t, saConfig, o)

	must(t, admin.Create(ctx, &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "backup-1"},
		Spec: velerov1.BackupSpec{IncludedNamespaces: []string{appNS}, SnapshotMoveData: ptr.To(true), CSISnapshotTimeout: metav1.Duration{Duration: time.Minute}}}))

	// Stand in for the snapshot-controller: bind each VolumeSnapshot the backup made to content.
	snaps := &snapshotv1.VolumeSnapshotList{}
	waitFor(t, admin, "two VolumeSnapshots in app", func() bool {
		return admin.List(ctx, snaps, client.InNamespace(appNS)) == nil && len(snaps.Items) == 2
	})
	for i := range snaps.Items {
		readySnapshot(t, admin, &snaps.Items[i])
	}

	dataDU := waitDataUpload(t, admin, "data", velerov2alpha1.DataUploadPhaseAccepted)
	waitDataUpload(t, admin, "logs", velerov2alpha1.DataUploadPhaseAccepted)

	pvc := &corev1.PersistentVolumeClaim{}
	waitFor(t, admin, "backupPVC of data", func() bool { return admin.Get(ctx, key(dataDU.Name), pvc) == nil })
	if *pvc.Spec.StorageClassName != "bronze" || len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadOnlyMany {
		t.Errorf("B4 backupPVC class %s modes %v, want bronze [ReadOnlyMany]", *pvc.Spec.StorageClassName, pvc.Spec.AccessModes)
	}
	// Stand in for the provisioner and the kubelet: bind the backupPVC, run then finish the pod.
	backupPV := bindBackupPVC(t, admin, pvc)
	reclaimDeletedClaims(t, admin, backupPV, pvc)
	pod := &corev1.Pod{}
	waitFor(t, admin, "backupPod of data", func() bool { return admin.Get(ctx, key(dataDU.Name), pod) == nil })
	if !pod.Spec.Volumes[0].PersistentVolumeClaim.ReadOnly {
		t.Error("C2 backupPod volume is not read-only")
	}
	setPodPhase(t, admin, pod, corev1.PodRunning, "")
	waitDataUpload(t, admin, "data", velerov2alpha1.DataUploadPhaseInProgress)
	setPodPhase(t, admin, pod, corev1.PodSucceeded, "snapshot-1")
	waitDataUpload(t, admin, "data", velerov2alpha1.DataUploadPhaseCompleted)

	failed := waitDataUpload(t, admin, "logs", velerov2alpha1.DataUploadPhaseFailed)
	if failed.Status.Message != controller.MessagePrepareTimeout {
		t.Errorf("D5 message %q", failed.Status.Message)
	}
	if waited := failed.Status.AcceptedTimestamp.Time; time.Since(waited) < o.PrepareTimeout {
		t.Errorf("D4 failed %v after accept, before the %v prepare timeout", time.Since(waited), o.PrepareTimeout)
	}

	b := &velerov1.Backup{}
	waitFor(t, admin, "backup PartiallyFailed", func() bool {
		return admin.Get(ctx, key("backup-1"), b) == nil && b.Status.Phase == velerov1.BackupPhasePartiallyFailed
	})
	if b.Status.Errors != 1 || b.Status.BackupItemOperationsAttempted != 2 || b.Status.BackupItemOperationsFailed != 1 || b.Status.CompletionTimestamp == nil {
		t.Errorf("E2 backup status %+v", b.Status)
	}

	// D6: nothing the expose made is left (cleanup follows the Failed phase, so it may lag the
	// backup's outcome a little); the backup PV was handed to the provisioner to delete.
	waitFor(t, admin, "no backupPod, backupPVC, backupVS or original VolumeSnapshot left", func() bool {
		for _, l := range []struct {
			list client.ObjectList
			ns   string
		}{{&corev1.PodList{}, veleroNS}, {&corev1.PersistentVolumeClaimList{}, veleroNS}, {&snapshotv1.VolumeSnapshotList{}, veleroNS}, {&snapshotv1.VolumeSnapshotList{}, appNS}} {
			if admin.List(ctx, l.list, client.InNamespace(l.ns)) != nil || len(names(l.list)) > 0 {
				return false
			}
		}
		return true
	})
	if err := admin.Get(ctx, client.ObjectKey{Name: backupPV}, &corev1.PersistentVolume{}); err == nil {
		t.Errorf("D6 backup PV %s left: its reclaim policy was not set to Delete", backupPV)
	}
	if strings.Contains(logs.String(), "forbidden") {
		t.Errorf("the reference hit RBAC denials under rbac.yaml:\n%s", grep(logs.String(), "forbidden"))
	}
}

func TestIntegrationConfigRejectedAtStart(t *testing.T) {
	admin, saConfig := apiServer(t)
	must(t, admin.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "two-keys"},
		Data: map[string]string{"a": "{}", "b": "{}"}}))
	for name, want := range map[string]string{
		"two-keys": "has 2 data keys [a b]",
		"missing":  `configmaps "missing" not found`,
	} {
		o := DefaultOptions()
		o.NodeAgentConfigMap = name
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := Run(ctx, saConfig, o)
		cancel()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("A4 %s: Run error %v, want it to say %q", name, err, want)
		}
	}
}

func boundPVC(t *testing.T, c client.Client, ns, name, class, pvName string) {
	t.Helper()
	ctx := context.Background()
	must(t, c.Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pvName}, Spec: corev1.PersistentVolumeSpec{
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: class, PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: pvName}}}}))
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
		StorageClassName: ptr.To(class), VolumeName: pvName, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	must(t, c.Create(ctx, pvc))
	pvc.Status.Phase = corev1.ClaimBound
	must(t, c.Status().Update(ctx, pvc))
}

func readySnapshot(t *testing.T, c client.Client, vs *snapshotv1.VolumeSnapshot) {
	t.Helper()
	ctx := context.Background()
	content := &snapshotv1.VolumeSnapshotContent{ObjectMeta: metav1.ObjectMeta{Name: "content-" + vs.Name}, Spec: snapshotv1.VolumeSnapshotContentSpec{
		Driver: driver, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete, VolumeSnapshotClassName: vs.Spec.VolumeSnapshotClassName,
		VolumeSnapshotRef: corev1.ObjectReference{Namespace: vs.Namespace, Name: vs.Name, UID: vs.UID},
		Source:            snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: ptr.To("handle-" + vs.Name)}}}
	must(t, c.Create(ctx, content))
	content.Status = &snapshotv1.VolumeSnapshotContentStatus{SnapshotHandle: ptr.To("handle-" + vs.Name), ReadyToUse: ptr.To(true)}
	must(t, c.Status().Update(ctx, content))
	vs.Status = &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: ptr.To(content.Name), ReadyToUse: ptr.To(true),
		RestoreSize: ptr.To(resource.MustParse("1Gi"))}
	must(t, c.Status().Update(ctx, vs))
}

func bindBackupPVC(t *testing.T, c client.Client, pvc *corev1.PersistentVolumeClaim) string {
	t.Helper()
	ctx := context.Background()
	name := "pv-backup-" + pvc.Name
	must(t, c.Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
		Capacity: pvc.Spec.Resources.Requests, AccessModes: pvc.Spec.AccessModes, StorageClassName: *pvc.Spec.StorageClassName,
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: name}}}}))
	pvc.Spec.VolumeName = name
	must(t, c.Update(ctx, pvc))
	pvc.Status.Phase = corev1.ClaimBound
	must(t, c.Status().Update(ctx, pvc))
	return name
}

// reclaimDeletedClaims plays the provisioner for one PV: once the claim is gone and the reclaim
// policy is Delete (the reference must set it, spec D6), the PV is deleted.
func reclaimDeletedClaims(t *testing.T, c client.Client, pvName string, claim *corev1.PersistentVolumeClaim) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			pv := &corev1.PersistentVolume{}
			if c.Get(ctx, client.ObjectKey{Name: pvName}, pv) != nil {
				return true, nil
			}
			claimGone := c.Get(ctx, client.ObjectKeyFromObject(claim), &corev1.PersistentVolumeClaim{}) != nil
			if claimGone && pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
				_ = c.Delete(ctx, pv)
			}
			return false, nil
		})
	}()
}

func setPodPhase(t *testing.T, c client.Client, pod *corev1.Pod, phase corev1.PodPhase, message string) {
	t.Helper()
	must(t, c.Get(context.Background(), client.ObjectKeyFromObject(pod), pod))
	pod.Status.Phase = phase
	if message != "" {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: message}}}}
	}
	must(t, c.Status().Update(context.Background(), pod))
}

func waitDataUpload(t *testing.T, c client.Client, pvc string, phase velerov2alpha1.DataUploadPhase) *velerov2alpha1.DataUpload {
	t.Helper()
	var found *velerov2alpha1.DataUpload
	waitFor(t, c, fmt.Sprintf("DataUpload of %s %s", pvc, phase), func() bool {
		list := &velerov2alpha1.DataUploadList{}
		if c.List(context.Background(), list, client.InNamespace(veleroNS)) != nil {
			return false
		}
		for i := range list.Items {
			if list.Items[i].Spec.SourcePVC == pvc && list.Items[i].Status.Phase == phase {
				found = &list.Items[i]
				return true
			}
		}
		return false
	})
	return found
}

// waitFor polls cond for up to 30 s; on timeout it fails the test with what the cluster held.
func waitFor(t *testing.T, c client.Client, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s; cluster:\n%s", what, dump(c))
	}
}

func dump(c client.Client) string {
	var b strings.Builder
	ctx := context.Background()
	dus := &velerov2alpha1.DataUploadList{}
	_ = c.List(ctx, dus)
	for _, du := range dus.Items {
		fmt.Fprintf(&b, "DataUpload %s pvc=%s phase=%s message=%q\n", du.Name, du.Spec.SourcePVC, du.Status.Phase, du.Status.Message)
	}
	backups := &velerov1.BackupList{}
	_ = c.List(ctx, backups)
	for _, bk := range backups.Items {
		fmt.Fprintf(&b, "Backup %s phase=%s errors=%d\n", bk.Name, bk.Status.Phase, bk.Status.Errors)
	}
	for _, l := range []client.ObjectList{&corev1.PodList{}, &corev1.PersistentVolumeClaimList{}, &snapshotv1.VolumeSnapshotList{}, &corev1.EventList{}} {
		_ = c.List(ctx, l)
		fmt.Fprintf(&b, "%T: %v\n", l, names(l))
	}
	return b.String()
}

func names(l client.ObjectList) []string {
	var out []string
	items, _ := metaItems(l)
	for _, o := range items {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func key(name string) client.ObjectKey { return client.ObjectKey{Namespace: veleroNS, Name: name} }

func grep(s, word string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
