package sut

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

func TestNew(t *testing.T) {
	if _, err := New(Config{SUT: "frobnicate"}); err == nil || !strings.Contains(err.Error(), "reference, velero") {
		t.Errorf("New(frobnicate) = %v, want an error naming the known systems", err)
	}
	if _, err := New(Config{SUT: "velero", Lane: "existing"}); err == nil || !strings.Contains(err.Error(), "local and kind lanes") {
		t.Errorf("New(velero on existing) = %v, want an error saying where it runs", err)
	}
	s, err := New(Config{SUT: "reference", Lane: "kind", RealKubelet: true, BackupPodImage: "mover:1"})
	if err != nil || s.Name() != "reference" {
		t.Fatalf("New(reference) = %v, %v", s, err)
	}
	if p := s.Properties(); !p.DataPath || p.DataMover != HarnessDataMover || p.TimeoutCheckInterval != referenceCheckInterval {
		t.Errorf("reference on kind: %+v, want the harness's data path", p)
	}
	local, _ := New(Config{SUT: "reference", Lane: "local"})
	if local.Properties().DataPath {
		t.Error("reference on the local lane claims a data path: kwok runs no backupPod")
	}
}

func TestTryStart(t *testing.T) {
	tests := []struct {
		name        string
		script      string
		wantRefused bool
		wantReason  string
		started     string
	}{
		{name: "exits 1: refused", script: "echo starting; echo 'velero: bad ConfigMap' >&2; exit 1", wantRefused: true, wantReason: "velero: bad ConfigMap"},
		{name: "exits 0: not refused", script: "exit 0"},
		{name: "still running at the deadline: accepted", script: "echo up; sleep 30", wantReason: "(still running after 500ms: stopped)"},
		{name: "logs its started line: accepted before the deadline", script: "echo loading; echo 'msg=started ok'; sleep 30", started: "msg=started", wantReason: "(logged msg=started after reading the ConfigMap: stopped)"},
		{name: "exits 1 without its started line: refused", script: "echo loading; exit 1", started: "msg=started", wantRefused: true, wantReason: "loading"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			deadline := 500 * time.Millisecond
			if tc.started != "" {
				deadline = time.Minute // the line, not the deadline, must end it
			}
			r, err := tryStart(context.Background(), deadline, tc.started, []string{"sh", "-c", tc.script}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Refused != tc.wantRefused || (tc.wantReason != "" && r.Reason() != tc.wantReason) {
				t.Errorf("refusal %+v (reason %q), want refused %v reason %q", r, r.Reason(), tc.wantRefused, tc.wantReason)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v: the process group was not stopped at the deadline", time.Since(start))
			}
		})
	}
}

func TestSweepStale(t *testing.T) {
	root := t.TempDir()
	sleeper, err := proc.Start("sleeper", t.TempDir(), []string{"sleep", "60"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Stop(time.Second) })
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	write := func(dir string, owner int) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(record{Owner: owner, Processes: []*proc.Process{sleeper}})
		if err := os.WriteFile(filepath.Join(dir, recordFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	alive := filepath.Join(root, "velero-alive")
	write(alive, 1) // its harness (pid 1 here) still runs
	if err := SweepStale(filepath.Join(root, "reference-new")); err != nil || !sleeper.Alive() {
		t.Fatalf("a run whose harness lives was swept: %v, alive %v", err, sleeper.Alive())
	}
	killed := filepath.Join(root, "velero-killed")
	write(killed, dead.Process.Pid)
	if err := SweepStale(filepath.Join(root, "reference-new")); err != nil {
		t.Fatal(err)
	}
	if sleeper.Alive() {
		t.Error("the process a killed run left still runs")
	}
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Errorf("the killed run's folder is still there: %v", err)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("the live run's folder went: %v", err)
	}
}

// The reference's start ends when it logs that it starts its controllers, or fails as soon as it
// exits before, with the end of its log: here it cannot read its kubeconfig (and an earlier run's
// "starting", in the log it appends to, does not count). Built: Start runs the binary as it is,
// so a missing one is an error, not a build.
func TestReferenceStart(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKUPPVC_CACHE", dir) // its own build, which this test removes
	cfg := Config{SUT: "reference", Lane: "local", Kubeconfig: filepath.Join(dir, "no-such-kubeconfig"), Namespace: "velero",
		PrepareTimeout: time.Minute, WorkDir: filepath.Join(dir, "work"), LogDir: filepath.Join(dir, "logs")}
	// An earlier run's log in the same folder, which the new process appends to, says it started.
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.LogDir, "reference.log"), []byte(`{"msg":"starting"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := newReference(cfg).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reference exited") || !strings.Contains(err.Error(), "no-such-kubeconfig") {
		t.Fatalf("Start with an unreadable kubeconfig: %v, want it to fail with the end of the reference's log", err)
	}
	cfg.Built = true
	r := newReference(cfg)
	if err := os.Remove(referenceBin()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("Start with Built and no binary succeeded")
	}
	if _, err := os.Stat(referenceBin()); err == nil {
		t.Error("Start with Built built the reference")
	}
}

// Build builds the reference where Start runs it, its go work folder removed after; Velero builds
// nothing from this checkout.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKUPPVC_CACHE", dir) // its own build
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	if err := Build(context.Background(), "velero"); err != nil {
		t.Fatalf("Build velero: %v", err)
	}
	if _, err := os.Stat(referenceBin()); err == nil {
		t.Fatal("Build velero built the reference")
	}
	if err := Build(context.Background(), "reference"); err != nil {
		t.Fatalf("Build reference: %v", err)
	}
	if _, err := os.Stat(referenceBin()); err != nil {
		t.Fatalf("after Build reference: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("Build left %s in TMPDIR", left[0].Name())
	}
}
