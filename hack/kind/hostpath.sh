#!/usr/bin/env bash
# csi-driver-host-path in the kind cluster of $KUBECONFIG, from its pinned upstream release: the
# snapshot-controller from the external-snapshotter module's manifests, then the driver through the
# release's own deploy/kubernetes-latest/deploy.sh. Both pull images from registry.k8s.io, and the
# release is cloned from GitHub (the module proxy refuses it), so this runs only where those are
# reachable (the kind lane's upstream image source, as on GitHub Actions).
set -euo pipefail
exec 1>&2 # all of it is progress, for the lane's log

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/hack/pins.sh"
: "${KUBECONFIG:?hostpath.sh deploys into the cluster of KUBECONFIG}"

v=$CSI_DRIVER_HOST_PATH_VERSION
src="$cache/src/csi-driver-host-path-$v"
if [ ! -d "$src/.git" ]; then
  rm -rf "$src"
  git clone --quiet --depth 1 --branch "$v" https://github.com/kubernetes-csi/csi-driver-host-path "$src"
fi
# The pinned kubectl, not whatever the machine has.
"$root/hack/tools.sh" kubernetes >&2
export PATH="$("$root/hack/tools.sh" --path kubernetes):$PATH"
snap=$(module_dir "github.com/kubernetes-csi/external-snapshotter/v8@$EXTERNAL_SNAPSHOTTER_VERSION")
kubectl apply -f "$snap/deploy/kubernetes/snapshot-controller/rbac-snapshot-controller.yaml" \
  -f "$snap/deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml"
kubectl -n kube-system rollout status deployment/snapshot-controller --timeout=3m
"$src/deploy/kubernetes-latest/deploy.sh"
kubectl -n default rollout status statefulset/csi-hostpathplugin --timeout=3m
