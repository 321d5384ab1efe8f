package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// The driver's command line is the profile's, filled in with the lane's folders: the emulator's
// flags come from its profile, a command's binary is the one given, and a driver whose profile
// names no status socket gets none.
func TestDriverCommand(t *testing.T) {
	em, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	hp, err := profile.Find(toolchain.RepoRoot(), "hostpath")
	if err != nil {
		t.Fatal(err)
	}
	const work = "/tmp/backuppvc-lanes/x"
	tests := []struct {
		name  string
		local *profile.Local
		bin   string
		d     string
		want  []string
	}{
		{name: "emulator", local: em.Local, bin: work + "/bin/csi-driver", d: em.Driver, want: []string{work + "/bin/csi-driver",
			"--endpoint=unix://" + work + "/csi/emulator.csi.backuppvc.io.sock", "--driver-name=emulator.csi.backuppvc.io",
			"--state-dir=" + work + "/driver-state/emulator.csi.backuppvc.io", "--node-id=kwok-node-0",
			"--status-address=unix://" + work + "/csi/emulator.csi.backuppvc.io.status.sock", "--capacity=2Ti"}},
		{name: "emulator's extra driver", local: em.Local, bin: "/b", d: "other.emulator.csi.backuppvc.io", want: []string{"/b",
			"--endpoint=unix://" + work + "/csi/other.emulator.csi.backuppvc.io.sock", "--driver-name=other.emulator.csi.backuppvc.io",
			"--state-dir=" + work + "/driver-state/other.emulator.csi.backuppvc.io", "--node-id=kwok-node-0",
			"--status-address=unix://" + work + "/csi/other.emulator.csi.backuppvc.io.status.sock", "--capacity=2Ti"}},
		{name: "hostpath", local: hp.Local, bin: "/opt/hostpathplugin", d: hp.Driver, want: []string{"/opt/hostpathplugin",
			"--endpoint=unix://" + work + "/csi/hostpath.csi.k8s.io.sock", "--drivername=hostpath.csi.k8s.io", "--nodeid=kwok-node-0",
			"--statedir=" + work + "/driver-state/hostpath.csi.k8s.io", "--enable-topology=false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := driverCommand(tc.local, tc.bin, placeholders(work, tc.d))
			if !slices.Equal(got, tc.want) {
				t.Errorf("driver command\n got %q\nwant %q", got, tc.want)
			}
			// The endpoint is where the lane waits for the socket and points the sidecars.
			if !slices.Contains(got, "--endpoint=unix://"+socketPath(work, tc.d)) {
				t.Errorf("driver command %q does not serve on %s", got, socketPath(work, tc.d))
			}
		})
	}
}

// Without HOSTPATH_PLUGIN the hostpath profile's Up fails in one line naming it, before anything
// starts: not even a previous lane of the name is taken down, no folder is made.
func TestHostpathUpWithoutPlugin(t *testing.T) {
	hp, err := profile.Find(toolchain.RepoRoot(), "hostpath")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, env, want string }{
		{name: "unset", env: "", want: "local lane: profile hostpath: HOSTPATH_PLUGIN not set"},
		{name: "missing file", env: filepath.Join(t.TempDir(), "hostpathplugin"), want: "(from ${HOSTPATH_PLUGIN}) does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOSTPATH_PLUGIN", tc.env)
			name := fmt.Sprintf("unit-hostpath-%d", os.Getpid())
			artifacts := filepath.Join(t.TempDir(), "artifacts")
			start := time.Now()
			l, err := Up(context.Background(), Options{Name: name, Profile: hp, ArtifactsDir: artifacts})
			if l != nil {
				t.Cleanup(func() { _ = l.Down(context.Background()) })
			}
			if err == nil {
				t.Fatal("Up without the plugin succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "give HOSTPATH_PLUGIN=/path/to/hostpathplugin") {
				t.Errorf("error %q: want one line containing %q and how to give the plugin", msg, tc.want)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Up took %v to refuse: it started something", took)
			}
			for _, dir := range []string{workDir(name), artifacts} {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("%s was made (%v)", dir, err)
				}
			}
		})
	}
}
