package sut

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

// refusalDeadline is how long a start-up may take to refuse a ConfigMap; one still running then
// has accepted it.
const refusalDeadline = 30 * time.Second

// tryStart runs a server's start-up and tells whether it exited on its own (refused) within
// deadline. It is stopped, and reported as not refusing, when it prints started (a line it logs
// only after it has read and accepted the ConfigMap, "" for none) or is still running at deadline:
// the line saves the rest of the deadline on every accepted ConfigMap.
func tryStart(ctx context.Context, deadline time.Duration, started string, args, env []string) (Refusal, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	cmd := exec.Command(args[0], args[1:]...)
	out := newLineWatch(started)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return Refusal{}, fmt.Errorf("sut: start %s: %w", args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func(why string) Refusal {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return Refusal{Output: out.String() + "\n" + why}
	}
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return Refusal{Refused: exit.ExitCode() != 0, ExitCode: exit.ExitCode(), Output: out.String()}, nil
		}
		return Refusal{Output: out.String()}, err
	case <-out.seen:
		return stop(fmt.Sprintf("(logged %s after reading the ConfigMap: stopped)", started)), nil
	case <-ctx.Done():
		return stop(fmt.Sprintf("(still running after %v: stopped)", deadline)), nil
	}
}

// lineWatch collects a process's output and closes seen once it contains want.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func newLineWatch(want string) *lineWatch { return &lineWatch{want: want, seen: make(chan struct{})} }

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.want != "" && bytes.Contains(w.buf.Bytes(), []byte(w.want)) {
		w.want = ""
		close(w.seen)
	}
	return n, err
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitLog waits until what p itself logged (its log past p.LogStart) contains line, failing at
// once if p exits.
func waitLog(ctx context.Context, p *proc.Process, line string, timeout time.Duration) error {
	return waitUntil(ctx, timeout, fmt.Sprintf("%s to log %q", p.Name, line), p, func(context.Context) (bool, error) {
		data, err := os.ReadFile(p.Log)
		return err == nil && int64(len(data)) >= p.LogStart && strings.Contains(string(data[p.LogStart:]), line), nil
	})
}

// waitUntil polls cond every 100 ms until it holds; it fails when timeout passes (saying what it
// waited for) or when one of watch exits (with the end of its log).
func waitUntil(ctx context.Context, timeout time.Duration, what string, watch *proc.Process, cond wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
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
