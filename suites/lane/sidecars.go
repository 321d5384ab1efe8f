package lane

// The flags every lane that runs the CSI sidecars itself gives them, beyond their kubeconfig and
// CSI address. Faster retries than the defaults (1s doubling to 5m) and no client throttling
// (default 5 requests/s): a suite's prepare timeout is seconds and the suites run many backups
// at once.
var (
	sidecarClient = []string{"--kube-api-qps=200", "--kube-api-burst=400", "--retry-interval-start=200ms", "--retry-interval-max=2s"}

	SnapshotControllerFlags = append([]string{"--v=2", "--worker-threads=20",
		"--feature-gates=CSIVolumeGroupSnapshot=false"}, sidecarClient...)

	ProvisionerFlags = append([]string{"--v=2", "--timeout=5m", "--extra-create-metadata", "--controller-publish-readonly",
		// The provisioner keeps its source-protection finalizer on a snapshot whose provisioning
		// failed until this sweep (default 5m): a backupVS after a refused ReadOnlyMany would
		// linger that long.
		"--snapshot-orphan-sweep-interval=5s"}, sidecarClient...)

	SnapshotterFlags = append([]string{"--v=2", "--timeout=5m", "--worker-threads=20"}, sidecarClient...)
)
