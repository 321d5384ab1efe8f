package proc

import (
	"testing"
	"time"
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
