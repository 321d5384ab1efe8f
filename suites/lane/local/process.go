package local

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

// state is the lane's record on disk.
type state struct {
	Name      string          `json:"name"`
	LogDir    string          `json:"logDir"`
	Processes []*proc.Process `json:"processes"`
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
func (s *state) stopAll(grace time.Duration) error { return proc.StopAll(s.Processes, grace) }

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
