package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyFileKeepsContentAndMode(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "plugin")
	if err := os.WriteFile(src, []byte("#!plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "target-plugin")
	if err := copyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || string(got) != "#!plugin" {
		t.Fatalf("copied %q, %v", got, err)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v, want 0755: Velero runs only executables from its plugin folder", st.Mode().Perm())
	}
	if err := copyFile(filepath.Join(dir, "missing"), dst); err == nil {
		t.Fatal("copying a missing file succeeded")
	}
}
