// Package lane is what the suites run on: a cluster with a CSI driver, the snapshot and Velero
// CRDs, and the profile's classes. Lanes (local, kind, existing) implement Lane; InstallCRDs,
// Prepare and Unprepare, and the sidecars' flags, are shared by all of them.
package lane
