package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

func TestStop(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "ends at SIGTERM", args: []string{"sleep", "60"}},
		// A process that ignores SIGTERM is killed after the grace.
		{name: "ignores SIGTERM", args: []string{"sh", "-c", "trap '' TERM; sleep 60 & wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start("stop-test", t.TempDir(), tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the shell sets its trap
			if err := p.Stop(300 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if p.Alive() {
				t.Errorf("%s still runs after Stop", p.Name)
			}
		})
	}
}

func TestKillRestart(t *testing.T) {
	p, err := Start("kill-test", t.TempDir(), []string{"sh", "-c", "trap '' TERM; sleep 60 & wait"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	if _, err := p.Restart(nil); err == nil {
		t.Error("Restart of a running process did not fail")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Alive() {
		t.Fatal("alive after Kill")
	}
	q, err := p.Restart(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(time.Second) })
	if !q.Alive() || q.PID == p.PID || q.Log != p.Log {
		t.Errorf("restarted %+v from %+v: want a new live process with the same log", q, p)
	}
}

func TestSurvive(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		until   time.Duration
		wantErr string
	}{
		{name: "lives through", args: []string{"sleep", "60"}, until: 300 * time.Millisecond},
		// Survive returns at the exit, long before until: a loaded machine may start sh slowly.
		{name: "exits at once", args: []string{"sh", "-c", "echo bad flag; exit 2"}, until: time.Minute, wantErr: "survive-test exited during start-up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start("survive-test", t.TempDir(), tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Stop(time.Second) })
			err = Survive(context.Background(), time.Now().Add(tt.until), p)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Survive: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "bad flag")):
				t.Fatalf("Survive: %v, want %q with the log's excerpt", err, tt.wantErr)
			}
		})
	}
}

// The log is appended to: LogStart is where a process's own output begins, past what an earlier
// run (or the same command before a Restart) wrote.
func TestLogStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "log-test.log"), []byte("an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Start("log-test", dir, []string{"sh", "-c", "echo first"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.LogStart != int64(len("an earlier run\n")) {
		t.Errorf("LogStart %d, want the earlier run's %d bytes", p.LogStart, len("an earlier run\n"))
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return !p.Alive(), nil
	}); err != nil {
		t.Fatal("the echo did not end")
	}
	q, err := p.Restart(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len("an earlier run\nfirst\n")); q.LogStart != want {
		t.Errorf("LogStart after Restart %d, want %d", q.LogStart, want)
	}
}
