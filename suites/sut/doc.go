// Package sut is the seam between the suites and a system under test (SUT): one interface for
// starting it with a node-agent ConfigMap and a prepare timeout, seeing it refuse a ConfigMap,
// reading its logs, stopping it, and the properties in which systems legitimately differ (how
// often the prepare timeout is checked, what runs in the backupPod, whether data moves on this
// lane). Two implementations: the reference (reference/cmd/backuppvc-reference as a host
// process) and the real Velero (its server, node-agents, aws plugin and an S3 store, built from
// the Go module proxy). The suites read only the interface: no spec branches on a SUT's name.
package sut
