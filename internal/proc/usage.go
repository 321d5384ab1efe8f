package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on every
// architecture Go supports (the kernel converts to it whatever its own HZ).
const clockTicks = 100

// Usage is what a process has used so far.
type Usage struct {
	// CPU is its user and system time (its own threads; not its waited-for children).
	CPU time.Duration
	// PeakRSS is its resident set's high-water mark (VmHWM), in bytes.
	PeakRSS int64
	// PGID is its process group.
	PGID int
}

// ReadUsage reads a running process's Usage from /proc.
func ReadUsage(pid int) (Usage, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Usage{}, err
	}
	f := statFields(stat)
	if len(f) < 13 {
		return Usage{}, fmt.Errorf("proc: %s/stat has %d fields", dir, len(f))
	}
	var u Usage
	u.PGID, _ = strconv.Atoi(f[2])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Usage{}, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.PeakRSS = kb << 10
		}
	}
	return u, nil
}
