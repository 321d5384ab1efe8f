// Package proc is the harness's one process supervisor: it starts host processes in their own
// process group with their output in a log file, tells whether they still run, and stops them
// (SIGTERM, then SIGKILL). A Process serializes to JSON, so a later command can stop what an
// earlier one started (the local lane's state file).
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/backuppvc-conformance/harness/internal/logtail"
)

// Process is a supervised host process.
type Process struct {
	Name string   `json:"name"`
	PID  int      `json:"pid"`
	Log  string   `json:"log"`
	Args []string `json:"args"`
	// LogStart is where in Log this process's output begins: the file is appended to, and may
	// hold an earlier run's, or the same command's before a Restart.
	LogStart int64 `json:"logStart"`
}

// Start runs args in its own process group (so a terminal's Ctrl-C reaches the harness, which
// stops it in order) with stdout and stderr appended to logDir/name.log and env added to the
// harness's environment.
func Start(name, logDir string, args []string, env []string) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, args[0], err)
	}
	p := &Process{Name: name, PID: cmd.Process.Pid, Log: logPath, Args: args, LogStart: fi.Size()}
	// Reap it when it exits so Alive sees the exit (a zombie would still answer signal 0).
	go func() { _ = cmd.Wait() }()
	return p, nil
}

// Excerpt is an excerpt of the process's log for error messages: its first lines (where a bad
// flag is said) and its last n.
func (p *Process) Excerpt(n int) string { return logtail.Excerpt(p.Log, 5, n) }

// Alive tells whether the process still runs.
func (p *Process) Alive() bool {
	if syscall.Kill(p.PID, 0) != nil {
		return false
	}
	// A zombie of a process not ours to reap (after a restart of the harness) counts as dead.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	return stateOf(stat) != "Z"
}

// Died is the error for a process that is not running: its name, cause and log excerpt.
func (p *Process) Died(cause string) error {
	return fmt.Errorf("%s %s; its log %s ends:\n%s", p.Name, cause, p.Log, p.Excerpt(15))
}

// Stop ends the process group: SIGTERM, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) error {
	if !p.Alive() {
		return nil
	}
	gone := func(context.Context) (bool, error) { return !p.Alive(), nil }
	_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	if wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, grace, true, gone) == nil {
		return nil
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	if wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 2*time.Second, true, gone) != nil {
		return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
	}
	return nil
}

// StopAll stops ps in reverse order (last started, first stopped).
func StopAll(ps []*Process, grace time.Duration) error {
	var errs []error
	for i := len(ps) - 1; i >= 0; i-- {
		if err := ps[i].Stop(grace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kill ends the process group at once with SIGKILL, as a crash or an OOM kill would, with no
// chance to clean up (make chaos measures what such a death leaves). It waits until the process
// is gone.
func (p *Process) Kill() error {
	if !p.Alive() {
		return nil
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	gone := func(context.Context) (bool, error) { return !p.Alive(), nil }
	if wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 5*time.Second, true, gone) != nil {
		return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
	}
	return nil
}

// Restart starts the process again with the same name, arguments and log file (appended to),
// for a supervisor that brings a killed component back; env is what Start was given (a Process
// does not record it: it may hold credentials' paths the state file need not carry).
func (p *Process) Restart(env []string) (*Process, error) {
	if p.Alive() {
		return nil, fmt.Errorf("%s (pid %d): restart while it still runs", p.Name, p.PID)
	}
	return Start(p.Name, filepath.Dir(p.Log), p.Args, env)
}

// Survive waits until every one of ps has run until the moment until (a component with a bad flag
// or a refused configuration dies within its first second: a caller gives it that long), and
// fails at once, with the Died error of the first that exits before. It also ends with ctx.
func Survive(ctx context.Context, until time.Time, ps ...*Process) error {
	return wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		for _, p := range ps {
			if !p.Alive() {
				return false, p.Died("exited during start-up")
			}
		}
		return !time.Now().Before(until), nil
	})
}
