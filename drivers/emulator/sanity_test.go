package emulator

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// TestIntegrationCSISanity runs the upstream csi-sanity suite (csi-test, pinned in
// hack/versions.env) against the emulator and fails on any failed spec. Skips are listed: each
// is a capability the emulator does not advertise.
func TestIntegrationCSISanity(t *testing.T) {
	bins := toolchain.RequireIntegration(t, [2]string{"csi-sanity", "csi-sanity"})
	if os.Geteuid() != 0 {
		t.Skip("csi-sanity publishes volumes with bind mounts: needs root")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "csi.sock")
	d, err := New(Options{StateDir: filepath.Join(dir, "state"), Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, d, "unix://"+sock, "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitForSocket(t, sock)

	report := filepath.Join(dir, "report.json")
	ctxRun, cancelRun := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancelRun()
	cmd := exec.CommandContext(ctxRun, bins["csi-sanity"],
		"--csi.endpoint=unix://"+sock,
		"--csi.mountdir="+filepath.Join(dir, "mount"),
		"--csi.stagingdir="+filepath.Join(dir, "staging"),
		"--csi.testvolumeparameters="+writeParams(t, dir),
		"--ginkgo.json-report="+report, "--ginkgo.no-color")
	out, runErr := cmd.CombinedOutput()

	counts, skipped, failed := readGinkgoReport(t, report)
	t.Logf("csi-sanity: %d passed, %d failed, %d skipped", counts["passed"], counts["failed"], counts["skipped"])
	for _, s := range skipped {
		t.Logf("skipped: %s", s)
	}
	if runErr != nil || counts["failed"] > 0 || counts["passed"] == 0 {
		t.Fatalf("csi-sanity: %v; failed specs: %v\n%s", runErr, failed, tail(string(out), 80))
	}
}

// writeParams gives csi-sanity's volumes a class with every emulator parameter set.
func writeParams(t *testing.T, dir string) string {
	p := filepath.Join(dir, "params.yaml")
	if err := os.WriteFile(p, []byte("replicas: \"2\"\ncloneCostPerGiB: \"0s\"\nreadOnlyFromSnapshot: \"true\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitForSocket(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("emulator socket %s did not appear", path)
}

func readGinkgoReport(t *testing.T, path string) (map[string]int, []string, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("csi-sanity wrote no report: %v", err)
	}
	var suites []struct {
		SpecReports []struct {
			State                   string
			LeafNodeText            string
			ContainerHierarchyTexts []string
			LeafNodeType            string
		}
	}
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatalf("csi-sanity report: %v", err)
	}
	counts := map[string]int{}
	var skipped, failed []string
	for _, s := range suites {
		for _, r := range s.SpecReports {
			if r.LeafNodeType != "It" {
				continue
			}
			name := strings.Join(append(r.ContainerHierarchyTexts, r.LeafNodeText), " / ")
			counts[r.State]++
			switch r.State {
			case "skipped":
				skipped = append(skipped, name)
			case "failed", "panicked", "timedout":
				counts["failed"]++
				failed = append(failed, name)
			}
		}
	}
	return counts, skipped, failed
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
