package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/proc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

func requireLane(t *testing.T) *profile.Profile {
	t.Helper()
	toolchain.RequireIntegration(t, binaries...)
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// assertGone fails when anything of the lane named name is left: its work folder, a process
// started from it, a mount under it.
func assertGone(t *testing.T, name string) {
	t.Helper()
	work := workDir(name)
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work folder %s left (%v)", work, err)
	}
	// Killed processes may take a moment to be reaped.
	_ = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(processesUnder(work)) == 0, nil
	})
	if left := processesUnder(work); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), work) {
		t.Errorf("mounts left under %s", work)
	}
}

func TestIntegrationLocalLaneProvisionsFromSnapshot(t *testing.T) {
	p := requireLane(t)
	ctx := context.Background()
	names := []string{fmt.Sprintf("it-a-%d", os.Getpid()), fmt.Sprintf("it-b-%d", os.Getpid())}
	lanes := make([]*Lane, 2)
	errs := make(chan error, 2)
	for i, n := range names {
		go func() {
			l, err := Up(ctx, Options{Name: n, Profile: p, ArtifactsDir: t.TempDir()})
			lanes[i] = l
			errs <- err
		}()
	}
	// Both lanes are taken down whichever of them failed to come up: the cleanup is registered
	// before any t.Fatal, and runs once both bring-ups have returned.
	t.Cleanup(func() {
		for i, l := range lanes {
			if l == nil {
				continue
			}
			if err := l.Down(context.Background()); err != nil {
				t.Error(err)
			}
			assertGone(t, names[i])
		}
	})
	var upErr error
	for range names {
		upErr = errors.Join(upErr, <-errs)
	}
	if upErr != nil {
		t.Fatal(upErr)
	}
	if lanes[0].Kubeconfig() == lanes[1].Kubeconfig() || lanes[0].RESTConfig().Host == lanes[1].RESTConfig().Host {
		t.Fatal("two lanes share a cluster")
	}
	// kwokctl gave the lanes' components different ports: the second lane's creation waited until
	// the first's components listened on theirs.
	var ports [2][]int
	for i, l := range lanes {
		var err error
		if ports[i], err = kwokctlPorts(filepath.Join(clusterDir(workDir(l.Name()), l.Name()), "kwok.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	if shared := slices.DeleteFunc(slices.Clone(ports[0]), func(p int) bool { return !slices.Contains(ports[1], p) }); len(shared) > 0 {
		t.Errorf("lanes %s %v and %s %v share port(s) %v", names[0], ports[0], names[1], ports[1], shared)
	}

	l := lanes[0]
	// Everything the lane runs (kwokctl's control plane and kwok, the sidecars, the driver) listens
	// on loopback only, or on unix sockets.
	pids := proc.Mentioning(workDir(l.Name()) + "/")
	addrs := proc.Listening(pids)
	if len(addrs) < 5 {
		t.Errorf("only %v listening in %d processes of the lane: the check would pass on anything", addrs, len(pids))
	}
	for _, a := range addrs {
		if !proc.Loopback(a) {
			t.Errorf("a lane component listens on %s, not on loopback (all: %v)", a, addrs)
		}
	}
	c, err := client.New(l.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	src := pvc("src", "emu-source", corev1.ReadWriteOnce, nil)
	mustCreate(t, c, src)
	waitBound(t, c, l, "src")
	mustCreate(t, c, &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "snap"},
		Spec: snapshotv1.VolumeSnapshotSpec{VolumeSnapshotClassName: ptr.To("emu-snapclass"),
			Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("src")}}})
	vs := &snapshotv1.VolumeSnapshot{}
	waitUntil(t, l, "snapshot ready", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "snap"}, vs) == nil && vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse
	})
	fromSnap := &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "snap"}
	mustCreate(t, c, pvc("rox", "emu-backup", corev1.ReadOnlyMany, fromSnap))
	bound := waitBound(t, c, l, "rox")
	pv := &corev1.PersistentVolume{}
	if err := c.Get(ctx, client.ObjectKey{Name: bound.Spec.VolumeName}, pv); err != nil {
		t.Fatal(err)
	}
	if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != p.Driver || !pv.Spec.CSI.ReadOnly ||
		len(pv.Spec.AccessModes) != 1 || pv.Spec.AccessModes[0] != corev1.ReadOnlyMany || pv.Spec.StorageClassName != "emu-backup" {
		t.Errorf("PV from snapshot: %+v", pv.Spec)
	}
	if err := l.Healthy(); err != nil {
		t.Errorf("lane unhealthy: %v", err)
	}
	if err := lanes[1].Healthy(); err != nil {
		t.Errorf("second lane unhealthy: %v", err)
	}

	// make chaos's seam: each component killed and restarted comes back (a new process, in the
	// state file Down reads), and the lane provisions again; the emulator keeps its volumes.
	for _, name := range []string{"csi-driver", "csi-provisioner", "csi-snapshotter", "snapshot-controller"} {
		before := l.st.Processes[slices.IndexFunc(l.st.Processes, func(p *proc.Process) bool { return p.Name == name })].PID
		if err := l.KillRestart(ctx, name); err != nil {
			t.Fatalf("KillRestart %s: %v", name, err)
		}
		st, err := readState(filepath.Join(workDir(l.Name()), "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(st.Processes, func(p *proc.Process) bool { return p.Name == name })
		if i < 0 || st.Processes[i].PID == before || !st.Processes[i].Alive() {
			t.Errorf("%s after KillRestart: state %+v, the killed PID was %d", name, st.Processes, before)
		}
	}
	if err := l.KillRestart(ctx, "kube-apiserver"); err == nil {
		t.Error("KillRestart of a component the lane does not supervise did not fail")
	}
	mustCreate(t, c, pvc("after-restarts", "emu-source", corev1.ReadWriteOnce, nil))
	waitBound(t, c, l, "after-restarts")
	if err := l.Healthy(); err != nil {
		t.Errorf("lane unhealthy after the restarts: %v", err)
	}
}

func TestIntegrationLocalLaneComponentDiesAtStart(t *testing.T) {
	p := requireLane(t)
	broken := *p
	local := *p.Local
	local.Args = append(slices.Clone(p.Local.Args), "--no-such-flag")
	broken.Local = &local
	name := fmt.Sprintf("it-broken-%d", os.Getpid())
	_, err := Up(context.Background(), Options{Name: name, Profile: &broken, ArtifactsDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "csi-driver") || !strings.Contains(err.Error(), "csi-driver.log") ||
		!strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("error %v should name the component, its log and why", err)
	}
	assertGone(t, name)
}

func TestIntegrationLocalLaneInterrupted(t *testing.T) {
	requireLane(t)
	bin := filepath.Join(t.TempDir(), "lane")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/backuppvc-conformance/harness/suites/cmd/lane").CombinedOutput(); err != nil {
		t.Fatalf("build lane command: %v\n%s", err, out)
	}
	name := fmt.Sprintf("it-int-%d", os.Getpid())
	buildsBefore, _ := filepath.Glob(filepath.Join(os.TempDir(), "go-build*"))
	cmd := exec.Command(bin, "up", "--name", name, "--artifacts", t.TempDir())
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the control plane is starting: the hardest moment to leave nothing behind.
	_ = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return len(processesUnder(workDir(name))) > 0, nil
	})
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("interrupted bring-up exited 0:\n%s", out)
	}
	assertGone(t, name)
	// The interrupt lands in the driver's go build: its work folder must not stay in /tmp.
	buildsAfter, _ := filepath.Glob(filepath.Join(os.TempDir(), "go-build*"))
	for _, b := range buildsAfter {
		if !slices.Contains(buildsBefore, b) {
			t.Errorf("an interrupted build left %s", b)
		}
	}
}

func pvc(name, class string, mode corev1.PersistentVolumeAccessMode, source *corev1.TypedLocalObjectReference) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), AccessModes: []corev1.PersistentVolumeAccessMode{mode},
			DataSource: source, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
}

func mustCreate(t *testing.T, c client.Client, o client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func waitBound(t *testing.T, c client.Client, l *Lane, name string) *corev1.PersistentVolumeClaim {
	t.Helper()
	got := &corev1.PersistentVolumeClaim{}
	waitUntil(t, l, "PVC "+name+" bound", func() bool {
		return c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, got) == nil && got.Status.Phase == corev1.ClaimBound
	})
	return got
}

// waitUntil polls for up to a minute; on timeout it fails with the lane's health and logs' ends.
func waitUntil(t *testing.T, l *Lane, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		var b strings.Builder
		for _, p := range l.st.Processes {
			fmt.Fprintf(&b, "--- %s (alive %v):\n%s\n", p.Name, p.Alive(), p.Excerpt(8))
		}
		t.Fatalf("timed out waiting for %s; components:\n%s", what, b.String())
	}
}
