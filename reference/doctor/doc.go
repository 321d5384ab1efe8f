// Package doctor checks a live cluster's backupPVC configuration the way Velero v1.18.3 would use
// it, and says in seconds what a data-mover backup of each configured storage class would do.
//
// It finds the configuration as Velero's node-agent does (the node-agent DaemonSet in the Velero
// namespace, its --node-agent-configmap and --data-mover-prepare-timeout arguments, the
// ConfigMap), lints it (reference/config), checks every backupPVC entry against the cluster
// (classes, provisioners, the VolumeSnapshotClass Velero would pick, read-only support from an
// optional driver profile) and, when asked to probe, really tries each entry in a namespace of its
// own: a small PVC of the source class, a VolumeSnapshot of it, a PVC from the snapshot in the
// backupPVC's class and access mode. Everything a probe creates carries the doctor's labels and is
// removed again, on success, failure, timeout and cancellation alike; objects it did not create
// are only read.
//
// One file per concern: discover.go (the configuration), checks.go (static checks), access.go
// (permissions), probe.go and cleanup.go (the probe), report.go (results, verdicts, exit codes),
// output.go (table and JSON), command.go (the backuppvc doctor command line).
package doctor
