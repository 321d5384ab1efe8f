package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// commandProfile is the emulator's profile with its local section replaced by a command: the
// already-built binary through an environment variable, as a vendor's or upstream's plugin is
// given, and no status socket (a driver that is not the emulator serves none).
func commandProfile(t *testing.T, dir string) *profile.Profile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(toolchain.RepoRoot(), "drivers", "emulator", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i := strings.Index(doc, "\nlocal:")
	if i < 0 {
		t.Fatal("the emulator's profile has no local section")
	}
	doc = strings.Replace(doc[:i], "name: emulator\n", "name: emulator-command\n", 1) + `
local:
  command:
    - ${BACKUPPVC_TEST_PLUGIN}
    - --endpoint={{endpoint}}
    - --driver-name={{driver}}
    - --node-id={{node}}
    - --state-dir={{stateDir}}
  needs: give BACKUPPVC_TEST_PLUGIN=/path/to/csi-emulator
  extraDrivers: [other.emulator.csi.backuppvc.io]
`
	path := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A driver the lane does not build, run from local.command: the lane starts it with its sidecars
// per driver name, makes the CSIDriver objects, and PVCs of both drivers are provisioned and bound
// through it; nothing is left afterwards.
func TestIntegrationLocalLaneRunsCommand(t *testing.T) {
	requireLane(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "csi-emulator")
	build := exec.Command("go", "build", "-o", bin, "./drivers/emulator/cmd/csi-emulator")
	build.Dir = toolchain.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the emulator: %v\n%s", err, out)
	}
	t.Setenv("BACKUPPVC_TEST_PLUGIN", bin)
	p := commandProfile(t, dir)
	name := fmt.Sprintf("it-cmd-%d", os.Getpid())
	artifacts := t.TempDir()
	// Registered before Up: a failed or half-made lane goes too.
	t.Cleanup(func() {
		if err := Down(context.Background(), name, logr.Discard()); err != nil {
			t.Error(err)
		}
		assertGone(t, name)
	})
	l, err := Up(context.Background(), Options{Name: name, Profile: p, ArtifactsDir: artifacts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.LogDir(), "build-driver.log")); !os.IsNotExist(err) {
		t.Errorf("the lane built a driver for a command profile (%v)", err)
	}
	var drivers int
	for _, pr := range l.st.Processes {
		if strings.HasPrefix(pr.Name, "csi-driver") {
			drivers++
			if pr.Args[0] != bin {
				t.Errorf("%s runs %s, want the command's binary %s", pr.Name, pr.Args[0], bin)
			}
		}
	}
	if drivers != 2 {
		t.Errorf("%d driver instances, want the profile's driver and its extra one", drivers)
	}
	if v := l.Versions()["csi driver"]; !strings.Contains(v, bin) || !strings.Contains(v, "sha256:") {
		t.Errorf("components list the driver as %q, want its binary and digest", v)
	}
	if s := l.DriverStatusSocket(p.Driver); s != "" {
		t.Errorf("status socket %q for a profile that names none", s)
	}

	c, err := client.New(l.RESTConfig(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]string{p.Driver}, p.Local.ExtraDrivers...) {
		cd := &storagev1.CSIDriver{}
		if err := c.Get(context.Background(), client.ObjectKey{Name: d}, cd); err != nil {
			t.Errorf("CSIDriver %s: %v", d, err)
		} else if cd.Spec.AttachRequired == nil || *cd.Spec.AttachRequired {
			t.Errorf("CSIDriver %s attachRequired %v, want false", d, cd.Spec.AttachRequired)
		}
	}
	for _, tc := range []struct{ pvc, class, driver string }{
		{"src", "emu-source", p.Driver},
		{"other", "emu-other-driver", "other.emulator.csi.backuppvc.io"},
	} {
		mustCreate(t, c, pvc(tc.pvc, tc.class, corev1.ReadWriteOnce, nil))
		bound := waitBound(t, c, l, tc.pvc)
		pv := &corev1.PersistentVolume{}
		if err := c.Get(context.Background(), client.ObjectKey{Name: bound.Spec.VolumeName}, pv); err != nil {
			t.Fatal(err)
		}
		if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != tc.driver {
			t.Errorf("PV of %s: %+v, want it provisioned by %s", tc.pvc, pv.Spec.CSI, tc.driver)
		}
	}
	if err := l.Healthy(); err != nil {
		t.Errorf("lane unhealthy: %v", err)
	}
}
