#!/usr/bin/env bash
# hack/kind/with-docker.sh CMD...: run CMD (the kind lane's suites) with a Docker engine, the
# pinned kind and the lane's images ready, then stop the engine if this script started it.
#
# KIND_IMAGES=upstream builds only this repository's driver and backupPod images (the node image
# is pulled); offline or auto (the default) also builds the offline node image, which a later run
# finds cached. Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
start=$SECONDS
env=$("$here/docker.sh" up)
export DOCKER_HOST; DOCKER_HOST=$(echo "$env" | sed -n 's/^DOCKER_HOST=//p')
started=$(echo "$env" | sed -n 's/^BACKUPPVC_DOCKER_STARTED=//p')
stop() { if [ "$started" = 1 ]; then "$here/docker.sh" down; fi; }
trap 'stop; exit 130' INT TERM
"$root/hack/tools.sh" kind >&2
images_args=()
[ "${KIND_IMAGES:-auto}" = upstream ] && images_args=(--drivers)
if ! "$here/images.sh" "${images_args[@]}" >/dev/null; then
  stop; exit 1
fi
echo "kind lane: Docker engine and images ready in $((SECONDS - start))s" >&2
status=0
"$@" || status=$?
stop
exit $status
