// Package datamover is the reference's stand-in for Velero's data mover, run as /velero in the
// backupPod on lanes with a real kubelet: it reads the exposed volume (the data path's read side)
// and then tries to write into it, so a run shows what the kubelet and the driver really did with a
// read-only backupPVC. It reports both through the container's termination message, which the
// suites read from the backupPod's status.
package datamover
