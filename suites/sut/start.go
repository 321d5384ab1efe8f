package sut

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

// refusalDeadline is how long a start-up may take to refuse a ConfigMap; one still running then
// has accepted it.
const refusalDeadline = 30 * time.Second

// tryStart runs a server's start-up and tells whether it exited on its own (refused) within
// deadline; one still running then is stopped and reported as not refusing.
func tryStart(ctx context.Context, deadline time.Duration, args, env []string) (Refusal, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return Refusal{}, fmt.Errorf("sut: start %s: %w", args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return Refusal{Refused: exit.ExitCode() != 0, ExitCode: exit.ExitCode(), Output: out.String()}, nil
		}
		return Refusal{Output: out.String()}, err
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return Refusal{Output: out.String() + fmt.Sprintf("\n(still running after %v: stopped)", deadline)}, nil
	}
}

// stillRunningAfter fails if any of ps exits within d (a bad flag, a refused configuration).
func stillRunningAfter(ctx context.Context, d time.Duration, ps ...*proc.Process) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, d, true, func(context.Context) (bool, error) {
		for _, p := range ps {
			if !p.Alive() {
				return false, p.Died("exited during start-up")
			}
		}
		return false, nil
	})
	// Here the poll running out is the success: every process lived through d.
	if wait.Interrupted(err) && ctx.Err() == nil {
		return nil
	}
	return err
}

// waitLog waits until p's log contains line, failing at once if p exits.
func waitLog(ctx context.Context, p *proc.Process, line string, timeout time.Duration) error {
	return waitUntil(ctx, timeout, fmt.Sprintf("%s to log %q", p.Name, line), p, func(context.Context) (bool, error) {
		data, err := os.ReadFile(p.Log)
		return err == nil && strings.Contains(string(data), line), nil
	})
}

// waitUntil polls cond every 200 ms until it holds; it fails when timeout passes (saying what it
// waited for) or when one of watch exits (with the end of its log).
func waitUntil(ctx context.Context, timeout time.Duration, what string, watch *proc.Process, cond wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if watch != nil && !watch.Alive() {
			return false, watch.Died("exited")
		}
		return cond(ctx)
	})
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err)) {
		return fmt.Errorf("waited %v for %s", timeout, what)
	}
	return err
}
