// Package lane is what the suites run on: a cluster with a CSI driver, the snapshot and Velero
// CRDs, and the profile's classes. Lanes (local, kind, existing) implement Lane; Prepare and Sweep
// are shared by all of them.
package lane
