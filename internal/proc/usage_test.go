package proc

import (
	"os"
	"testing"
	"time"
)

func TestReadUsage(t *testing.T) {
	start := time.Now()
	for time.Since(start) < 50*time.Millisecond { // CPU time for the count to see
	}
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU <= 0 || u.PeakRSS < 1<<20 || u.PGID <= 0 {
		t.Errorf("usage of this test's process: %+v, want CPU time, a peak RSS of at least 1 MiB and a process group", u)
	}
	if _, err := ReadUsage(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
