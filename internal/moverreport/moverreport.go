// Package moverreport is the report the harness's data mover stand-in (reference/datamover, the
// /velero of the reference's backupPods and of the suites' fill pods) writes as its container's
// termination message, and that the suites read. It carries the fields of Velero's own data mover
// result (pkg/datapath.BackupResult: snapshotID, source, totalBytes), so a system under test reads
// it as Velero reads its data mover's; the rest is for the suites.
package moverreport

import (
	"encoding/json"
	"fmt"
)

// ProbeFile is the file the write probe creates (and removes) at the top of the volume.
const ProbeFile = ".backuppvc-write-probe"

// Report is what one run read and whether it could write.
type Report struct {
	// SnapshotID, Source and TotalBytes are Velero's data mover result fields. The stand-in
	// uploads nothing: its snapshot ID names the content it read (SnapshotIDPrefix + sha256).
	SnapshotID string `json:"snapshotID"`
	Source     Source `json:"source"`
	TotalBytes int64  `json:"totalBytes"`

	DataUpload string `json:"dataUpload"`
	VolumePath string `json:"volumePath"`
	VolumeMode string `json:"volumeMode"`
	Files      int    `json:"files"`
	Bytes      int64  `json:"bytes"`
	// SHA256 is of everything read, files in lexical order of their paths.
	SHA256 string `json:"sha256"`
	// Write is "ok", "failed" or "skipped" (Block volumes); WriteError the error when failed.
	Write      string `json:"write"`
	WriteError string `json:"writeError,omitempty"`
}

// Source is Velero's AccessPoint: where the data mover found the volume.
type Source struct {
	ByPath     string `json:"byPath"`
	VolumeMode string `json:"volumeMode"`
}

// SnapshotIDPrefix starts the stand-in's snapshot IDs.
const SnapshotIDPrefix = "harness-sha256-"

// Complete fills the Velero result fields from what was read.
func (r *Report) Complete() {
	r.SnapshotID = SnapshotIDPrefix + r.SHA256
	r.Source = Source{ByPath: r.VolumePath, VolumeMode: r.VolumeMode}
	r.TotalBytes = r.Bytes
}

// Parse reads the report from a termination message.
func Parse(message string) (*Report, error) {
	var r Report
	if err := json.Unmarshal([]byte(message), &r); err != nil {
		return nil, fmt.Errorf("moverreport: report %q: %w", message, err)
	}
	return &r, nil
}
