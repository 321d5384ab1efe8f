// Package sut starts and stops the system under test. Today that is the reference implementation
// (reference/cmd/backuppvc-reference) as a host process against the lane's cluster; the suites
// talk to it only through Velero's public surface, so a real Velero install can take its place.
package sut
