package emulator

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// copySparse keeps every byte and every hole: data extents copied, zeros written inside an extent
// left as holes, a trailing hole kept by the size alone.
func TestCopySparse(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	const size = 64 << 20
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	writes := map[int64][]byte{
		0:                 []byte("at the start"),
		5<<20 + 3:         bytes.Repeat([]byte{0}, 4<<20), // zeros written out: data to the filesystem
		20<<20 + 777:      bytes.Repeat([]byte("middle"), 300000),
		size - 1<<20 - 10: []byte("near the end"),
	}
	for at, b := range writes {
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if err := copyFile(src, dst, 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src)
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size || !bytes.Equal(got, want) {
		t.Fatalf("copy differs: %d bytes, want %d equal to the source", len(got), size)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dst, &st); err != nil {
		t.Fatal(err)
	}
	// The data: 12 bytes, 1.8 MB in the middle, 12 near the end, each rounded up to chunks.
	if allocated := st.Blocks * 512; allocated > 6<<20 {
		t.Errorf("copy has %d bytes allocated, want the holes and the written zeros left out", allocated)
	}
}
