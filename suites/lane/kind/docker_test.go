package kind

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/internal/proc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

const (
	// startedFile names the dockerd hack/kind/docker.sh started, until its down.
	startedFile = "/run/backuppvc-docker/started-by-backuppvc"
	testNetwork = "bpvc-docker-script-test"
)

// killEngine sends SIGKILL to the dockerd the script started, as a killed run would leave it, and
// waits until it is gone (or a zombie nobody reaps).
func killEngine(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(startedFile)
	if err != nil {
		t.Fatalf("the engine's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("the engine's pid in %s: %v", startedFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill dockerd %d: %v", pid, err)
	}
	for deadline := time.Now().Add(30 * time.Second); proc.Running(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dockerd %d still runs 30s after SIGKILL", pid)
		}
	}
}

// hostState is what dockerd changes on the host and hack/kind/docker.sh must put back.
func hostState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, cmd := range [][]string{{"iptables-save", "-t", "filter"}, {"iptables-save", "-t", "nat"}, {"ip", "-o", "link", "show"}, {"sysctl", "-n", "net.ipv4.ip_forward"}} {
		out, err := exec.Command(cmd[0], cmd[1:]...).Output()
		if err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(line, "#") { // iptables-save's timestamps
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}

func dockerScript(t *testing.T, env []string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(filepath.Join(toolchain.RepoRoot(), "hack", "kind", "docker.sh"), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("docker.sh %v: %v\n%s", args, err, stderr)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// The script starts an engine of its own when none answers, uses an engine that answers as it is
// (never restarting or reconfiguring it), and stopping its own puts the host back as it was: no
// bridge, firewall rule or forwarding setting left, nothing in /etc/docker or /var/lib/docker.
func TestIntegrationDockerScript(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("BACKUPPVC_REQUIRE_INTEGRATION") == "1" && exec.Command(filepath.Join(toolchain.RepoRoot(), "hack", "kind", "docker.sh"), "can-start").Run() == nil {
			t.Fatal("an engine answers but the test needs root to check the host state")
		}
		t.Skip("starting dockerd and reading the firewall need root")
	}
	if exec.Command("docker", "version").Run() == nil || exec.Command("docker", "-H", "unix:///run/backuppvc-docker/docker.sock", "version").Run() == nil {
		t.Skip("a Docker engine already answers: this test must not touch it (make test-kind uses it as it is)")
	}
	// On a new machine the script's first up installs docker.io, and iptables with it: the host
	// state before it is read with the tools that brings.
	dockerScript(t, nil, "install")
	if _, err := os.Stat(startedFile); err == nil {
		// A run killed with its engine left the host as that engine had it: up and down put it back
		// first (what this test checks below), so that "before" is the host without an engine.
		t.Logf("%s: an engine of the script's was killed without down; up and down first", startedFile)
		dockerScript(t, nil, "up")
		dockerScript(t, nil, "down")
	}
	etcBefore, _ := os.ReadDir("/etc/docker")
	_, varErr := os.Stat("/var/lib/docker")
	before := hostState(t)

	first := dockerScript(t, nil, "up")
	if first["BACKUPPVC_DOCKER_STARTED"] != "1" || first["DOCKER_HOST"] == "" {
		t.Fatalf("first up: %v, want an engine started by the script", first)
	}
	stopped, network := false, false
	defer func() {
		// The network lives in the engine's data root (in the cache): a failed test removes it too,
		// with an engine of its own if the one it had was killed.
		script := filepath.Join(toolchain.RepoRoot(), "hack", "kind", "docker.sh")
		if network {
			if out, err := exec.Command(script, "up").CombinedOutput(); err != nil {
				t.Errorf("cleanup: docker.sh up: %v: %s", err, out)
			}
			stopped = false
			if out, err := exec.Command("docker", "-H", first["DOCKER_HOST"], "network", "rm", testNetwork).CombinedOutput(); err != nil {
				t.Errorf("cleanup: docker network rm %s: %v: %s", testNetwork, err, out)
			}
		}
		if !stopped {
			if out, err := exec.Command(script, "down").CombinedOutput(); err != nil {
				t.Errorf("cleanup: docker.sh down: %v: %s", err, out)
			}
		}
	}()
	if err := exec.Command("docker", "-H", first["DOCKER_HOST"], "version").Run(); err != nil {
		t.Fatalf("the engine it started does not answer: %v", err)
	}
	again := dockerScript(t, []string{"DOCKER_HOST=" + first["DOCKER_HOST"]}, "up")
	if again["BACKUPPVC_DOCKER_STARTED"] != "0" || again["DOCKER_HOST"] != first["DOCKER_HOST"] {
		t.Errorf("up with an engine answering: %v, want it used as it is (started 0, %s)", again, first["DOCKER_HOST"])
	}

	// Killed with its engine: the next up starts a new engine and keeps the host's state from before
	// the killed one, so its down still puts the host back (a network makes sure the killed engine
	// left a bridge and rules behind).
	_ = exec.Command("docker", "-H", first["DOCKER_HOST"], "network", "rm", testNetwork).Run() // a killed test's
	if out, err := exec.Command("docker", "-H", first["DOCKER_HOST"], "network", "create", testNetwork).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v: %s", err, out)
	}
	network = true
	killEngine(t)
	if hostState(t) == before {
		t.Fatal("the killed engine left nothing on the host: the case is not exercised")
	}
	if third := dockerScript(t, nil, "up"); third["BACKUPPVC_DOCKER_STARTED"] != "1" {
		t.Fatalf("up after the engine was killed: %v, want a new engine started by the script", third)
	}
	if out, err := exec.Command("docker", "-H", first["DOCKER_HOST"], "network", "rm", testNetwork).CombinedOutput(); err != nil {
		t.Errorf("docker network rm: %v: %s", err, out)
	} else {
		network = false
	}
	dockerScript(t, nil, "down")
	stopped = true
	if err := exec.Command("docker", "-H", first["DOCKER_HOST"], "version").Run(); err == nil {
		t.Error("the engine still answers after down")
	}
	if after := hostState(t); after != before {
		t.Errorf("host state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	etcAfter, _ := os.ReadDir("/etc/docker")
	if len(etcAfter) != len(etcBefore) {
		t.Errorf("/etc/docker had %d entries, now %d", len(etcBefore), len(etcAfter))
	}
	if _, err := os.Stat("/var/lib/docker"); os.IsNotExist(varErr) && err == nil {
		t.Error("/var/lib/docker was created")
	}
}
