package sut

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/backuppvc-conformance/harness/internal/logtail"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// Reference is a running backuppvc-reference process.
type Reference struct {
	cmd  *exec.Cmd
	Log  string
	done chan error
}

// ReferenceOptions are the reference's flags the suites set.
type ReferenceOptions struct {
	Kubeconfig         string
	Namespace          string
	NodeAgentConfigMap string
	PrepareTimeout     time.Duration
	Image              string
	// BinDir receives the built binary; LogPath the process's log.
	BinDir  string
	LogPath string
	// ExtraArgs are more flags of backuppvc-reference run.
	ExtraArgs []string
}

// Build compiles the reference command into dir and returns its path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "backuppvc-reference")
	cmd := exec.Command("go", "build", "-o", bin, "./reference/cmd/backuppvc-reference")
	cmd.Dir = toolchain.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("sut: build reference: %v\n%s", err, out)
	}
	return bin, nil
}

// StartReference builds and starts the reference; it fails if the process exits within its first
// second (a refused ConfigMap, a bad flag), with the end of its log.
func StartReference(o ReferenceOptions) (*Reference, error) {
	bin, err := Build(o.BinDir)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sut: %w", err)
	}
	defer f.Close()
	args := []string{"run", "--kubeconfig", o.Kubeconfig, "--namespace", o.Namespace,
		"--data-mover-prepare-timeout", o.PrepareTimeout.String(), "--prepare-check-interval", "250ms",
		"--node-agent-configmap", o.NodeAgentConfigMap}
	if o.Image != "" {
		args = append(args, "--backup-pod-image", o.Image)
	}
	args = append(args, o.ExtraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sut: start reference: %w", err)
	}
	r := &Reference{cmd: cmd, Log: o.LogPath, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }()
	select {
	case err := <-r.done:
		r.done <- err
		return nil, fmt.Errorf("sut: reference exited at start (%v); its log %s:\n%s", err, o.LogPath, logtail.Tail(o.LogPath, 10))
	case <-time.After(time.Second):
	}
	return r, nil
}

// PID is the process's ID.
func (r *Reference) PID() int { return r.cmd.Process.Pid }

// Running reports whether the process is still up.
func (r *Reference) Running() error {
	select {
	case err := <-r.done:
		r.done <- err
		return fmt.Errorf("reference exited (%v); its log %s ends:\n%s", err, r.Log, logtail.Tail(r.Log, 10))
	default:
		return nil
	}
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s).
func (r *Reference) Stop() error {
	if r.Running() != nil {
		return nil
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		return errors.New("sut: reference ignored SIGTERM for 10 s and was killed")
	}
}

// RunOnce runs the reference command with args to completion (for lint and refused start-ups).
func RunOnce(bin string, args ...string) (string, int, error) {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode(), nil
	}
	return out.String(), 0, err
}
