// Package bench measures the systems under test on the local lane, side by side: how exposes scale
// with concurrent backups (each DataUpload's stages from watches, latency percentiles, API requests
// per DataUpload from the API server's audit log, each program's CPU and peak RSS) and the storage
// scenarios of Velero's backupPVC page made visible with the
// emulator (writable clones versus read-only volumes from a snapshot; capacity used by replicas).
// Numbers, not verdicts: make bench prints them as Markdown and keeps the raw data.
package bench
