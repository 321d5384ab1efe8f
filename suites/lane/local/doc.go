// Package local is the offline local lane: kube-apiserver, etcd, controller-manager and scheduler
// as host processes through kwokctl's binary runtime, kwok simulating nodes and pods, and the real
// snapshot-controller, csi-provisioner and csi-snapshotter as supervised host processes against
// the profile's CSI driver. It needs only Go and the Go module proxy (hack/tools.sh).
package local
