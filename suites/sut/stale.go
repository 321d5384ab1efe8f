package sut

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

// record is what a system under test writes into its work folder while it runs: who started it
// and its processes, so that a later run can stop what a killed one left.
type record struct {
	Owner     int             `json:"owner"`
	Processes []*proc.Process `json:"processes"`
}

const recordFile = "processes.json"

func writeRecord(workDir string, ps []*proc.Process) error {
	data, err := json.Marshal(record{Owner: os.Getpid(), Processes: ps})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(workDir, recordFile), data, 0o644)
}

// SweepStale stops the processes of systems under test whose harness died without stopping them
// (a SIGKILL, a crash) and removes their work folders, every sibling of workDir's; a folder whose
// harness still runs is left alone.
func SweepStale(workDir string) error {
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(workDir), "*"))
	var errs []error
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, recordFile))
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(data, &r) != nil || r.Owner == os.Getpid() || syscall.Kill(r.Owner, 0) == nil {
			continue
		}
		if err := proc.StopAll(r.Processes, 5*time.Second); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sut: what a killed run left: %w", err)
	}
	return nil
}
