// Package exposer is the reference CSI snapshot exposer: from a DataUpload's VolumeSnapshot it makes
// the backupVS, backupVSC, backupPVC and backupPod in the Velero namespace with the same shapes as
// Velero v1.18.3 (spec B1-B10, C1-C5), and cleans them up and diagnoses them (spec D5, D6).
package exposer
