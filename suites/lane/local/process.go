package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/backuppvc-conformance/harness/internal/logtail"
)

// process is a supervised host process, recorded in the lane's state file so that a later
// command (make cluster-down, or the next Up after a crash) can stop it.
type process struct {
	Name string   `json:"name"`
	PID  int      `json:"pid"`
	Log  string   `json:"log"`
	Args []string `json:"args"`
}

// start runs args in its own process group (so a terminal's Ctrl-C reaches the harness, which
// stops it in order) with stdout and stderr appended to logDir/name.log.
func start(name, logDir string, args []string, env []string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, args[0], err)
	}
	p := &process{Name: name, PID: cmd.Process.Pid, Log: logPath, Args: args}
	// Reap it when it exits so alive() sees the exit (a zombie would still answer signal 0).
	go func() { _ = cmd.Wait() }()
	return p, nil
}

// lastLines is an excerpt of the process's log for error messages: its first lines (where a bad
// flag is said) and its last n.
func (p *process) lastLines(n int) string { return logtail.Excerpt(p.Log, 5, n) }

// alive tells whether the process still runs.
func (p *process) alive() bool {
	if syscall.Kill(p.PID, 0) != nil {
		return false
	}
	// A zombie of a process not ours to reap (after a restart of the harness) counts as dead.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// stop ends the process group: SIGTERM, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	for i := 0; i < 100 && p.alive(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if p.alive() {
		return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
	}
	return nil
}

// state is the lane's record on disk.
type state struct {
	Name      string     `json:"name"`
	LogDir    string     `json:"logDir"`
	Processes []*process `json:"processes"`
}

func readState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &state{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("corrupt lane state %s: %w", path, err)
	}
	return s, nil
}

func (s *state) write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// stopAll stops the processes in reverse start order.
func (s *state) stopAll(grace time.Duration) error {
	var errs []error
	for i := len(s.Processes) - 1; i >= 0; i-- {
		if err := s.Processes[i].stop(grace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lockFile takes an exclusive lock on path (created if needed), waiting for it; the returned
// function releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
