package datamover

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/backuppvc-conformance/harness/internal/moverreport"
)

// ProbeFile is the file the write probe creates (and removes) at the top of the volume.
const ProbeFile = moverreport.ProbeFile

// Report is what one run read and whether it could write; it is the termination message.
type Report = moverreport.Report

// Run executes "data-mover backup" with Velero's backupPod arguments. Reading errors fail the run
// (the DataUpload then fails, as a broken data path would); a refused write does not, it is what a
// read-only backupPVC should do.
func Run(args []string) (*Report, error) {
	if len(args) < 2 || args[0] != "data-mover" || args[1] != "backup" {
		return nil, fmt.Errorf("datamover: usage: /velero data-mover backup --volume-path=... (got %q)", args)
	}
	fset := flag.NewFlagSet("data-mover backup", flag.ContinueOnError)
	r := &Report{}
	fset.StringVar(&r.VolumePath, "volume-path", "", "where the backupPVC is mounted or attached")
	fset.StringVar(&r.VolumeMode, "volume-mode", "Filesystem", "Filesystem or Block")
	fset.StringVar(&r.DataUpload, "data-upload", "", "the DataUpload this pod serves")
	fset.String("resource-timeout", "", "accepted for Velero's command line; unused")
	if err := fset.Parse(args[2:]); err != nil {
		return nil, err
	}
	if r.VolumePath == "" {
		return nil, errors.New("datamover: --volume-path is required")
	}
	sum := sha256.New()
	if r.VolumeMode == "Block" {
		n, err := readAll(r.VolumePath, sum)
		r.Files, r.Bytes, r.Write, r.SHA256 = 1, n, "skipped", hex.EncodeToString(sum.Sum(nil))
		r.Complete()
		return r, err
	}
	// WalkDir visits in lexical order, so the digest does not depend on the file system.
	err := filepath.WalkDir(r.VolumePath, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		n, err := readAll(p, sum)
		r.Files++
		r.Bytes += n
		return err
	})
	r.SHA256 = hex.EncodeToString(sum.Sum(nil))
	r.Complete()
	if err != nil {
		return r, fmt.Errorf("datamover: read %s: %w", r.VolumePath, err)
	}
	r.Write = "ok"
	if err := probeWrite(filepath.Join(r.VolumePath, ProbeFile)); err != nil {
		r.Write, r.WriteError = "failed", err.Error()
	}
	return r, nil
}

func readAll(path string, sum io.Writer) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(sum, f)
}

// FillFile is what Fill writes at the top of a source volume.
const FillFile = "backuppvc-source.bin"

// Fill writes size bytes derived from seed into dir/FillFile and reports them as Run would read
// them back (the suites put known data in a source volume, then compare what the backupPod read).
func Fill(args []string) (*Report, error) {
	fset := flag.NewFlagSet("fill", flag.ContinueOnError)
	r := &Report{VolumeMode: "Filesystem", Write: "ok"}
	fset.StringVar(&r.VolumePath, "path", "", "where the source volume is mounted")
	size := fset.Int64("bytes", 1<<20, "how many bytes to write")
	seed := fset.String("seed", "", "makes the content unique to one backup")
	if err := fset.Parse(args); err != nil {
		return nil, err
	}
	if r.VolumePath == "" || *size < 0 {
		return nil, errors.New("datamover: fill needs --path and --bytes >= 0")
	}
	block := sha256.Sum256([]byte(*seed))
	data := make([]byte, *size)
	for i := 0; i < len(data); i += len(block) {
		copy(data[i:], block[:])
	}
	f, err := os.Create(filepath.Join(r.VolumePath, FillFile))
	if err != nil {
		return nil, fmt.Errorf("datamover: fill: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("datamover: fill: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return nil, fmt.Errorf("datamover: fill: %w", err)
	}
	sum := sha256.Sum256(data)
	r.Files, r.Bytes, r.SHA256 = 1, *size, hex.EncodeToString(sum[:])
	r.Complete()
	return r, nil
}

func probeWrite(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString("backuppvc write probe\n")
	cerr := f.Close()
	return errors.Join(werr, cerr, os.Remove(path))
}
