package datamover

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/backuppvc-conformance/harness/internal/moverreport"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b"), []byte("world!"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Run([]string{"data-mover", "backup", "--volume-path=" + dir, "--volume-mode=Filesystem", "--data-upload=du-1", "--resource-timeout=10m0s"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Report{DataUpload: "du-1", VolumePath: dir, VolumeMode: "Filesystem", Files: 2, Bytes: 11, Write: "ok",
		SHA256: "98d234db7e91f5ba026a25d0d6f17bc5ee0a347ea2216b0c9de06d43536d49f4", // sha256("helloworld!")
		// Velero's data mover result fields, which a DataUpload controller reads.
		SnapshotID: "harness-sha256-98d234db7e91f5ba026a25d0d6f17bc5ee0a347ea2216b0c9de06d43536d49f4",
		Source:     moverreport.Source{ByPath: dir, VolumeMode: "Filesystem"}, TotalBytes: 11}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Run = %+v, want %+v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ProbeFile)); !os.IsNotExist(err) {
		t.Errorf("the write probe left its file: %v", err)
	}
}

// A read-only bind mount (what the kubelet gives a read-only volume) refuses the probe with EROFS;
// the run still succeeds and says so.
func TestRunReadOnlyMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	src, target := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, 0) })
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	got, err := Run([]string{"data-mover", "backup", "--volume-path", target, "--data-upload", "du-2"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Write != "failed" || !strings.HasSuffix(got.WriteError, "read-only file system") || got.Bytes != 4 {
		t.Errorf("Run = %+v, want a failed write with EROFS after reading 4 bytes", got)
	}
}

func TestRunRejects(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "--volume-path=/x"},
		{"data-mover", "backup"},
		{"data-mover", "backup", "--volume-path=/does/not/exist"},
		{"data-mover", "backup", "--volume-path=/x", "--unknown=1"},
	} {
		if _, err := Run(args); err == nil {
			t.Errorf("Run(%q) succeeded", args)
		}
	}
}

// What Fill writes, Run reads back with the same size and digest; another seed gives other data.
func TestFillThenRun(t *testing.T) {
	dir := t.TempDir()
	filled, err := Fill([]string{"--path", dir, "--bytes", "100000", "--seed", "backup-1"})
	if err != nil {
		t.Fatal(err)
	}
	read, err := Run([]string{"data-mover", "backup", "--volume-path", dir})
	if err != nil {
		t.Fatal(err)
	}
	if read.Bytes != 100000 || read.SHA256 != filled.SHA256 || read.Files != 1 {
		t.Errorf("read %d bytes %s in %d files, filled %d bytes %s", read.Bytes, read.SHA256, read.Files, filled.Bytes, filled.SHA256)
	}
	other, err := Fill([]string{"--path", t.TempDir(), "--bytes", "100000", "--seed", "backup-2"})
	if err != nil {
		t.Fatal(err)
	}
	if other.SHA256 == filled.SHA256 {
		t.Error("two seeds gave the same data")
	}
	if _, err := Fill([]string{"--bytes", "10"}); err == nil {
		t.Error("Fill without --path succeeded")
	}
}
