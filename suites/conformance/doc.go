// Package conformance holds the Ginkgo conformance suites for Velero's backupPVC configuration.
// They judge the system under test only through Velero's public surface: they create Backups,
// read DataUploads, and look at the backupPVC and backupPod Velero names after each DataUpload.
// Expectations come from the driver profile. Run them with make e2e.
package conformance
