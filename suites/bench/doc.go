// Package bench measures the system under test on the local lane: how exposes scale with
// concurrent backups (Accepted-to-Prepared latency percentiles, wall time, API requests per
// DataUpload, peak RSS) and the storage scenarios of Velero's backupPVC page made visible with the
// emulator (writable clones versus read-only volumes from a snapshot; capacity used by replicas).
// Numbers, not verdicts: make bench prints them as Markdown and keeps the raw data.
package bench
