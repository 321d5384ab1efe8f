package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Volume is one emulated volume.
type Volume struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SizeBytes int64  `json:"sizeBytes"`
	Replicas  int    `json:"replicas"`
	Block     bool   `json:"block"`
	// ReadOnly: created for MULTI_NODE_READER_ONLY; published read-only whatever the request says.
	ReadOnly       bool   `json:"readOnly"`
	SourceSnapshot string `json:"sourceSnapshot,omitempty"`
	// SharesSnapshot: a read-only volume whose data is its source snapshot's (no copy was made).
	SharesSnapshot bool              `json:"sharesSnapshot,omitempty"`
	Parameters     map[string]string `json:"parameters,omitempty"`
}

// Snapshot is one emulated snapshot: a copy of its source volume's data.
type Snapshot struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	SourceVolume string    `json:"sourceVolume"`
	SizeBytes    int64     `json:"sizeBytes"`
	Block        bool      `json:"block"`
	CreatedAt    time.Time `json:"createdAt"`
}

// state is what survives a restart: the metadata in state.json, the data beside it.
type state struct {
	Volumes   map[string]*Volume   `json:"volumes"`
	Snapshots map[string]*Snapshot `json:"snapshots"`
}

type store struct {
	dir string
	st  state
}

func openStore(dir string) (*store, error) {
	for _, sub := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("emulator: state dir: %w", err)
		}
	}
	s := &store{dir: dir, st: state{Volumes: map[string]*Volume{}, Snapshots: map[string]*Snapshot{}}}
	data, err := os.ReadFile(s.metaPath())
	switch {
	case os.IsNotExist(err):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("emulator: read state: %w", err)
	}
	if err := json.Unmarshal(data, &s.st); err != nil {
		return nil, fmt.Errorf("emulator: state %s is corrupt: %w", s.metaPath(), err)
	}
	if s.st.Volumes == nil {
		s.st.Volumes = map[string]*Volume{}
	}
	if s.st.Snapshots == nil {
		s.st.Snapshots = map[string]*Snapshot{}
	}
	return s, nil
}

func (s *store) metaPath() string { return filepath.Join(s.dir, "state.json") }

// save writes the metadata atomically: a crash leaves the old or the new state, never half.
func (s *store) save() error {
	data, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.metaPath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.metaPath())
}

func (s *store) volumePath(v *Volume) string {
	if v.SharesSnapshot {
		return s.snapshotPath(&Snapshot{ID: v.SourceSnapshot, Block: v.Block})
	}
	return dataPath(filepath.Join(s.dir, "volumes", v.ID), v.Block)
}

func (s *store) snapshotPath(sn *Snapshot) string {
	return dataPath(filepath.Join(s.dir, "snapshots", sn.ID), sn.Block)
}

func dataPath(base string, block bool) string {
	if block {
		return base + ".img"
	}
	return base
}

// makeData creates an empty volume: a folder, or a sparse file of size bytes for Block.
func makeData(path string, block bool, size int64) error {
	if !block {
		return os.MkdirAll(path, 0o755)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(size)
}

// copyData copies a volume's or snapshot's data: a folder tree, or a Block image.
func copyData(src, dst string, block bool) error {
	if block {
		return copyFile(src, dst, 0o644)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil // sockets, devices: not data
	})
}

// copyFile copies src to dst keeping holes: a Block volume is a sparse image of its full size,
// and writing its zeros out (a GiB per snapshot and per clone) made each copy take seconds.
func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := copySparse(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copySparse copies in to out keeping holes, and sets out's size to in's at the end (a trailing
// hole has nothing written into it). It reads only in's data extents (SEEK_DATA, SEEK_HOLE): a
// fresh 1 GiB image read whole made the kernel fill a GiB of page cache with zeros, 2.8 s of CPU
// per snapshot. Within an extent it seeks over chunks of zeros instead of writing them, which also
// keeps holes where the filesystem reports the whole file as data.
func copySparse(out, in *os.File) error {
	info, err := in.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) { // only a hole from off on
			break
		}
		if err != nil {
			return fmt.Errorf("seek data in %s: %w", in.Name(), err)
		}
		hole, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole in %s: %w", in.Name(), err)
		}
		if err := copyExtent(out, in, data, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(size)
}

// copyExtent copies n bytes at off from in to out, chunk by chunk, seeking over chunks of zeros.
func copyExtent(out, in *os.File, off, n int64) error {
	const chunk = 1 << 20
	buf, zero := make([]byte, chunk), make([]byte, chunk)
	for n > 0 {
		m := min(n, chunk)
		if _, err := in.ReadAt(buf[:m], off); err != nil {
			return err
		}
		if !bytes.Equal(buf[:m], zero[:m]) {
			if _, err := out.WriteAt(buf[:m], off); err != nil {
				return err
			}
		}
		off, n = off+m, n-m
	}
	return nil
}
