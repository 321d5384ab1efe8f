// Package controller holds the reference's controllers: the DataUpload controller (what Velero's
// node-agent does for a CSI snapshot data-mover backup, spec D1-D7) and the Backup controller (what
// Velero's server and CSI plugin do around it: snapshots and DataUploads per PVC, then the backup's
// outcome from theirs, spec E1-E2).
package controller
