package bench

import (
	"sort"
	"strings"
	"time"
)

// Batch is one measured group of backups started at once.
type Batch struct {
	Name    string `json:"name"`
	System  string `json:"system"`
	Backups int    `json:"backups"`
	SizeGiB int    `json:"sizeGiB"`
	// Latencies are the prepared DataUploads' Accepted→Prepared times; EndToEnd their
	// created→Prepared times (a system may keep a DataUpload New, unaccepted, while it is busy).
	Latencies []time.Duration `json:"acceptedToPrepared"`
	EndToEnd  []time.Duration `json:"createdToPrepared"`
	// Wall runs from the first Backup's creation to the last DataUpload's Prepared.
	Wall time.Duration `json:"wall"`
	// CreationSpread runs from the first Backup's creation to the last DataUpload's: how much
	// of "at once" the system's backup side keeps.
	CreationSpread time.Duration     `json:"creationSpread"`
	DataUploads    []DataUploadTimes `json:"dataUploads"`
	// Requests are every component's API requests during the batch (the API server's audit log),
	// by user agent program.
	Requests map[string]*Requests `json:"requests"`
	// Usage is every lane and system process's CPU and memory, by program.
	Usage           map[string]Usage `json:"usage"`
	PeakCapacityGiB float64          `json:"peakBackupCapacityGiB"`
	// NotPrepared counts the DataUploads that ended, or were never made, without being Prepared.
	NotPrepared int `json:"notPrepared"`
}

// Percentile returns the p-th percentile (nearest rank) of the batch's latencies.
func (b Batch) Percentile(p float64) time.Duration { return Percentile(b.Latencies, p) }

// Percentile returns the p-th percentile (nearest rank) of ds, 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// StageDurations are, for each stage after the first, the time each DataUpload took from the
// stage before it (a stage seen before its predecessor, the watches' order, counts as 0).
func (b Batch) StageDurations() [numStages][]time.Duration {
	var out [numStages][]time.Duration
	for _, d := range b.DataUploads {
		for s := StageAccepted; s < numStages; s++ {
			if d.reached(s) && d.reached(s-1) {
				out[s] = append(out[s], max(0, d.At[s]-d.At[s-1]))
			}
		}
	}
	return out
}

// SystemUsage sums the usage of the system under test's own programs.
func (b Batch) SystemUsage() Usage {
	var u Usage
	for name, pu := range b.Usage {
		if ownProgram(b.System, name) {
			u.CPUSeconds += pu.CPUSeconds
			u.PeakRSSBytes += pu.PeakRSSBytes
			u.Processes += pu.Processes
		}
	}
	return u
}

// ownProgram says whether the program belongs to the system under test: the reference is one
// program; Velero is its server, node-agents, plugins and the object store it writes to.
func ownProgram(system, program string) bool {
	if system == "velero" {
		return strings.HasPrefix(program, "velero") || program == "versitygw"
	}
	return program == "backuppvc-reference"
}

// agentsOf are the user agent programs under which the system's requests reach the API server:
// Velero's server, node-agents and plugins each name themselves.
func agentsOf(system string) []string {
	if system == "velero" {
		return []string{"velero-server", "node-agent-server", "velero"}
	}
	return []string{"backuppvc-reference"}
}

// SystemRequests counts the system under test's own requests during the batch.
func (b Batch) SystemRequests() int64 {
	var n int64
	for _, a := range agentsOf(b.System) {
		if r := b.Requests[a]; r != nil {
			n += r.Total
		}
	}
	return n
}

// RequestsPerDU is the system under test's requests per DataUpload.
func (b Batch) RequestsPerDU() float64 {
	if b.Backups == 0 {
		return 0
	}
	return float64(b.SystemRequests()) / float64(b.Backups)
}
