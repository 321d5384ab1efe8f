package bench

import (
	"path/filepath"
	"strings"
	"syscall"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

// Usage is what one component (one program, all its processes) used during a batch.
type Usage struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	// PeakRSSBytes sums its processes' resident high-water marks: the batch's peak for processes
	// started for the batch (the system under test), the lane's lifetime peak for the lane's.
	PeakRSSBytes int64 `json:"peakRSSBytes"`
	Processes    int   `json:"processes"`
}

type sample struct {
	name string
	u    proc.Usage
}

// sampleProcesses reads the usage of every process whose command line mentions one of dirs (a
// lane names its work folder, a system under test its own or the lane's kubeconfig) and of the
// rest of their process groups (Velero's plugins), by PID.
func sampleProcesses(dirs ...string) map[int]sample {
	own := syscall.Getpgrp()
	groups := map[int]bool{}
	out := map[int]sample{}
	add := func(pid int) {
		if _, seen := out[pid]; seen {
			return
		}
		if u, err := proc.ReadUsage(pid); err == nil {
			out[pid] = sample{name: programOf(proc.Cmdline(pid)), u: u}
			if u.PGID != own {
				groups[u.PGID] = true
			}
		}
	}
	for _, d := range dirs {
		for _, pid := range proc.Mentioning(d + "/") {
			add(pid)
		}
	}
	for g := range groups {
		for _, pid := range proc.Group(g) {
			add(pid)
		}
	}
	return out
}

// programOf names a process by its program, and Velero's by its command too (velero server,
// velero node-agent, velero run-plugins).
func programOf(cmdline string) string {
	args := strings.Fields(cmdline)
	if len(args) == 0 {
		return "(gone)"
	}
	name := filepath.Base(args[0])
	if name == "velero" && len(args) > 1 {
		name += " " + args[1]
	}
	return name
}

// usageBetween is each program's usage from before to after: CPU time spent in between (all of
// it for a process started since), peak RSS as after reads it.
func usageBetween(before, after map[int]sample) map[string]Usage {
	out := map[string]Usage{}
	for pid, a := range after {
		u := out[a.name]
		cpu := a.u.CPU
		if b, ok := before[pid]; ok {
			cpu -= b.u.CPU
		}
		u.CPUSeconds += cpu.Seconds()
		u.PeakRSSBytes += a.u.PeakRSS
		u.Processes++
		out[a.name] = u
	}
	return out
}
