// Package kind is the lane with a real kubelet: a one-node kind cluster (sigs.k8s.io/kind through
// e2e-framework's support/kind provider, always with the pinned kind binary) on a Docker engine
// that hack/kind/docker.sh provides.
//
// Offline (no registry reachable, as on the development machine) the node image and every image
// in it are built from Debian packages and Go modules by hack/kind/images.sh; the node has a
// static CNI config for one node. With a registry (as on GitHub Actions) the lane uses the
// upstream kindest/node image and, for the hostpath profile, csi-driver-host-path from its pinned
// upstream manifests (hack/kind/hostpath.sh). Either way the storage emulator and the backupPod's
// data mover stand-in are this repository's images, loaded into the node with `kind load` (the CSI
// sidecars' image too with an upstream node; the offline node has it inside).
//
// Offline, nothing the lane does leaves the machine: no registry probe, CoreDNS answers cluster names
// only, and the node blackholes the service and pod ranges (see hack/kind for the Docker engine's
// side).
package kind
