#!/usr/bin/env bash
# The kind lane's images: the offline node image (everything from Debian packages and Go modules,
# nothing pulled) and this repository's driver and backupPod images.
#
#   hack/kind/images.sh            build what is missing; print NODE_IMAGE=, SIDECARS_IMAGE=,
#                                  EMULATOR_IMAGE=, DATAMOVER_IMAGE= lines
#   hack/kind/images.sh --drivers  the sidecars, driver and backupPod images only, the sidecars on a
#                                  pulled Debian base (for the upstream node image, where a registry
#                                  answers; the lane then loads all three into the node)
#   hack/kind/images.sh --velero   the images of SUT=velero (from hack/tools.sh velero
#                                  velero-plugin-for-aws versitygw); print VELERO_IMAGE=,
#                                  VELERO_PLUGIN_IMAGE=, VERSITYGW_IMAGE= lines
#
# Needs DOCKER_HOST for an engine (hack/kind/docker.sh up). Stages, each cached as a Docker image
# whose tag carries the versions and a hash of the recipe, so a second run rebuilds nothing:
#   1. base: a Debian root (debootstrap) with systemd, containerd, runc, CNI plugins, iptables, plus
#      kind's images/base/files from the kind module (entrypoint, containerd config, kubelet units);
#   2. images, tagged as the pinned kubeadm asks (`kubeadm config images list`): kube-apiserver,
#      kube-controller-manager, kube-scheduler, kube-proxy, etcd, coredns (binaries from their Go
#      modules via hack/tools.sh) and pause (kubernetes' build/pause/linux/pause.c, gcc -static);
#   3. the CSI sidecars (csi-provisioner, csi-snapshotter, snapshot-controller from hack/tools.sh) on
#      the base: pinned upstream binaries, so they go inside the node image like kubeadm's images;
#   4. node: the base with kubelet, kubeadm, kubectl, those images imported into its containerd, a
#      static ptp CNI config for one node, and blackhole routes for the service and pod ranges;
#   5. ours, tagged by a hash of their binary, static, on scratch (a few MB, loaded per run): the
#      storage emulator and the backupPod's data mover stand-in (/velero).
#   6. Velero's, on scratch, tagged by version and a hash of their binary: velero (/velero, as in
#      Velero's image, with a writable /tmp), the aws plugin (its binary in /plugins and a copier as
#      entrypoint, the way velero install runs plugin images as init containers), versitygw.
# The layout follows what kind's own `kind build node-image` produces (which needs a registry).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/hack/pins.sh"
work="$cache/kind-build"
suite=$KIND_NODE_DEBIAN_SUITE
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The node's packages: systemd and the tools kubelet, kubeadm and kube-proxy call, the container
# runtime, the CNI plugins; kind's own base image installs much the same list.
packages=(systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz e2fsprogs bash ca-certificates jq procps socat containerd runc
  containernetworking-plugins)
log() { echo "images: $*" >&2; }
hash_of() { sha256sum | cut -c1-10; }

kind_dir() { module_dir "sigs.k8s.io/kind@$KIND_VERSION"; }
k8s_dir() { module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION"; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

base_tag() {
  # The recipe's text without its log lines: rewording a message rebuilds nothing.
  echo "backuppvc/kind-base:$KIND_VERSION-$suite-$( (echo "${packages[*]}"; sed -n '/^build_base()/,/^}/p' "$0" | grep -v '^ *log ') | hash_of)"
}

build_base() {
  local tag=$1 rootfs="$work/base-rootfs" kd start=$SECONDS
  kd=$(kind_dir)
  command -v debootstrap >/dev/null || {
    log "installing debootstrap (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  }
  umount_all "$rootfs"; rm -rf "$rootfs"; mkdir -p "$rootfs"
  log "debootstrap $suite from $mirror (about a minute; log $work/debootstrap.log)"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; return 1; }
  # kind's base files, with the modes kind's Dockerfile gives them.
  install -d -m 0755 "$rootfs/kind/bin" "$rootfs/etc/containerd" "$rootfs/etc/systemd/system/kubelet.service.d" \
    "$rootfs/etc/kubernetes/manifests" "$rootfs/opt/cni/bin" "$rootfs/etc/cni/net.d" "$rootfs/kind/manifests"
  install -m 0755 "$kd"/images/base/files/usr/local/bin/* "$rootfs/usr/local/bin/"
  install -m 0755 "$kd"/images/base/files/kind/bin/* "$rootfs/kind/bin/"
  install -m 0644 "$kd"/images/base/files/etc/crictl.yaml "$rootfs/etc/"
  install -m 0644 "$kd"/images/base/files/etc/containerd/* "$rootfs/etc/containerd/"
  install -m 0644 "$kd"/images/base/files/etc/default/* "$rootfs/etc/default/"
  install -m 0644 "$kd"/images/base/files/etc/sysctl.d/* "$rootfs/etc/sysctl.d/"
  install -m 0644 "$kd"/images/base/files/etc/systemd/system/*.service "$kd"/images/base/files/etc/systemd/system/*.slice "$rootfs/etc/systemd/system/"
  install -m 0644 "$kd"/images/base/files/etc/systemd/system/kubelet.service.d/* "$rootfs/etc/systemd/system/kubelet.service.d/"
  # Debian puts containerd in /usr/bin and the CNI plugins in /usr/lib/cni; kind expects /usr/local/bin
  # and /opt/cni/bin.
  ln -sf /usr/bin/containerd "$rootfs/usr/local/bin/containerd"
  for p in "$rootfs"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/$(basename "$p")" "$rootfs/opt/cni/bin/"; done
  # Debian's containerd 1.6 reads the v2 config kind ships; inside a container it must not raise
  # OOM scores, and a cgroup v1 host has no hugetlb guarantees.
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$rootfs/etc/containerd/config.toml"
  chroot "$rootfs" sh -ec '
    ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer|length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" |
      jq "del(.process.rlimits)" > /etc/containerd/cri-base.json
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo ReadKMsg=no >> /etc/systemd/journald.conf
    ln -sf /usr/lib/systemd/systemd /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service
    systemctl mask systemd-binfmt.service
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/log/* /tmp/* /var/tmp/* /usr/share/doc/* /usr/share/man/* /var/cache/debconf/*-old
  ' >>"$work/debootstrap.log" 2>&1
  umount_all "$rootfs"
  tar -C "$rootfs" -c . | docker import - "$tag-rootfs" >/dev/null
  rm -rf "$rootfs"
  # docker import cannot set STOPSIGNAL (Debian's engine is 20.10), a one-step build can.
  mkdir -p "$work/ctx/base"
  printf '%s\n' "FROM $tag-rootfs" 'ENV container=docker' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'STOPSIGNAL SIGRTMIN+3' \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' >"$work/ctx/base/Dockerfile"
  quiet_build "$tag" "$work/ctx/base"
  docker rmi "$tag-rootfs" >/dev/null
  rm -rf "$work/ctx/base"
  log "built $tag in $((SECONDS - start))s"
}

umount_all() { { grep -o " $1[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done; }

# k8s_images: the images the pinned kubeadm will ask the node's containerd for.
k8s_images() { "$($root/hack/tools.sh --path kubernetes-node)/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null; }

# build_image TAG BASE BIN... [-- ENTRYPOINT...]: an image holding the binaries in /usr/local/bin.
build_image() {
  local tag=$1 base=$2 ctx; shift 2
  ctx="$work/ctx/$(echo "$tag" | tr '/:' '__')"
  rm -rf "$ctx"; mkdir -p "$ctx"
  {
    echo "FROM $base"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do cp "$1" "$ctx/"; echo "COPY $(basename "$1") /usr/local/bin/"; shift; done
    [ $# -gt 0 ] && { shift; printf 'ENTRYPOINT ['; printf '"%s",' "$@" | sed 's/,$//'; printf ']\n'; }
    echo "LABEL io.backuppvc.built-by=hack/kind/images.sh io.backuppvc.from=$base"
  } >"$ctx/Dockerfile"
  quiet_build "$tag" "$ctx"
  rm -rf "$ctx"
}

# quiet_build TAG CTX: the legacy builder (no BuildKit, nothing pulled), its output only on failure.
quiet_build() {
  DOCKER_BUILDKIT=0 docker build -q -t "$1" "$2" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; return 1; }
}

# glibc_tag BASE: an image holding only the C library of BASE, what the Go binaries built with
# cgo need (ldd: libc.so.6 and the loader), so their images are megabytes, not the whole base.
glibc_tag() { echo "backuppvc/kind-glibc:$(echo "$1" | hash_of)"; }

build_glibc() {
  local tag ctx="$work/ctx/glibc"
  tag=$(glibc_tag "$1")
  have_image "$tag" && return
  log "building $tag"
  rm -rf "$ctx"; mkdir -p "$ctx"
  printf '%s\n' "FROM $1 AS root" 'FROM scratch' \
    'COPY --from=root /usr/lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/' \
    'COPY --from=root /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /lib64/' \
    'COPY --from=root /etc/passwd /etc/group /etc/nsswitch.conf /etc/' \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' >"$ctx/Dockerfile"
  quiet_build "$tag" "$ctx"
  rm -rf "$ctx"
}

# have_image_from TAG FROM: TAG exists and was built by build_image on FROM (kubeadm's tags say
# nothing of our recipe).
have_image_from() {
  [ "$(docker image inspect -f '{{index .Config.Labels "io.backuppvc.from"}}' "$1" 2>/dev/null)" = "$2" ]
}

build_k8s_images() {
  local base=$1 glibc img name version bin from
  glibc=$(glibc_tag "$base")
  build_glibc "$base"
  for img in $(k8s_images); do
    name=${img##*/}; version=${name##*:}; name=${name%%:*}
    case "$name" in
      kube-proxy) from=$base ;; # iptables and the tools it calls
      coredns|pause) from=scratch ;; # static
      *) from=$glibc ;;
    esac
    have_image_from "$img" "$from" && continue
    log "building $img"
    case "$name" in
      kube-apiserver|kube-controller-manager|kube-scheduler)
        build_image "$img" "$from" "$("$root/hack/tools.sh" --path kubernetes)/$name" ;;
      kube-proxy)
        build_image "$img" "$from" "$("$root/hack/tools.sh" --path kubernetes-node)/kube-proxy" ;;
      etcd)
        version=v${version%-*}
        ETCD_VERSION=$version "$root/hack/tools.sh" etcd >&2
        bin=$(ETCD_VERSION=$version "$root/hack/tools.sh" --path etcd)
        build_image "$img" "$from" "$bin/etcd" "$bin/etcdctl" ;;
      coredns)
        COREDNS_VERSION=$version "$root/hack/tools.sh" coredns >&2
        bin=$(COREDNS_VERSION=$version "$root/hack/tools.sh" --path coredns)
        mkdir -p "$work/coredns"; cp "$bin/coredns" "$work/coredns/coredns"
        build_image "$img" scratch "$work/coredns/coredns" -- /usr/local/bin/coredns ;;
      pause)
        mkdir -p "$work/pause"
        gcc -Os -static -DVERSION="v$version-backuppvc" -o "$work/pause/pause" "$(k8s_dir)/build/pause/linux/pause.c"
        build_image "$img" scratch "$work/pause/pause" -- /usr/local/bin/pause ;;
      *) log "kubeadm asks for $img, which this script does not know how to build"; return 1 ;;
    esac
  done
}

node_tag() {
  echo "backuppvc/kind-node:$KUBERNETES_VERSION-$( (base_tag; k8s_images; sidecars_tag "$(glibc_tag "$(base_tag)")"
    sed -n '/^build_node()/,/^}/p;/^build_k8s_images()/,/^}/p;/^build_glibc()/,/^}/p' "$0" | grep -v '^ *log ') | hash_of)"
}

build_node() {
  local tag=$1 base=$2 cid nodebin kbin pause start=$SECONDS img
  nodebin=$("$root/hack/tools.sh" --path kubernetes-node); kbin=$("$root/hack/tools.sh" --path kubernetes)
  pause=$(k8s_images | grep '/pause:')
  cid=$(docker run -d --privileged --network none --entrypoint=sleep "$base" infinity)
  # Removed however the script ends (set -e exits skip RETURN traps, and locals are gone by EXIT).
  trap "docker rm -f $cid >/dev/null 2>&1 || true" EXIT
  docker cp "$nodebin/kubelet" "$cid:/usr/bin/kubelet"
  docker cp "$nodebin/kubeadm" "$cid:/usr/bin/kubeadm"
  docker cp "$kbin/kubectl" "$cid:/usr/bin/kubectl"
  docker exec -i -e VERSION="$KUBERNETES_VERSION" -e PAUSE="$pause" "$cid" sh -ec '
    echo "$VERSION" > /kind/version
    sed -i "s#sandbox_image = .*#sandbox_image = \"$PAUSE\"#" /etc/containerd/config.toml
    # One node, one pod range: kind gives the first node 10.244.0.0/24 of its default 10.244.0.0/16.
    cat > /etc/cni/net.d/10-backuppvc-ptp.conflist <<JSON
{"cniVersion": "0.4.0", "name": "backuppvc-ptp", "plugins": [
  {"type": "ptp", "mtu": 1500, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
    # kind applies this only without disableDefaultCNI; the lane always disables it.
    echo "# no default CNI: the node has a static ptp config (single node)" > /kind/manifests/default-cni.yaml
    # Until kube-proxy programs its rules, packets to the service range would follow the default
    # route out of the machine; DNAT happens before routing, so services still work. Packets to a
    # pod that is gone (its veth and /32 route removed) would too: the pod range is blackholed
    # below the /32 route each live pod has.
    cat > /etc/systemd/system/backuppvc-service-blackhole.service <<UNIT
[Unit]
Description=Blackhole routes for the service and pod ranges (nothing addressed to them leaves the node)
Before=kubelet.service
[Service]
Type=oneshot
ExecStart=/sbin/ip route replace blackhole 10.96.0.0/16
ExecStart=/sbin/ip route replace blackhole 10.244.0.0/16
RemainAfterExit=yes
[Install]
WantedBy=multi-user.target
UNIT
    systemctl enable backuppvc-service-blackhole.service 2>/dev/null
  '
  docker exec -d "$cid" containerd
  for _ in $(seq 1 60); do docker exec "$cid" ctr version >/dev/null 2>&1 && break; sleep 0.5; done
  for img in $(k8s_images) "$(sidecars_tag "$(glibc_tag "$base")")"; do
    docker save "$img" | docker exec -i "$cid" ctr -n k8s.io images import --all-platforms - >/dev/null
  done
  # Not a pipe into grep -q: with pipefail, ctr's SIGPIPE when grep stops early fails the check.
  local imported; imported=$(docker exec "$cid" ctr -n k8s.io images ls -q)
  grep -qx "$pause" <<<"$imported" || { log "import into the node's containerd failed; it has: $imported"; return 1; }
  docker exec "$cid" sh -c 'kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done'
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
    --change 'ENV container=docker' "$cid" "$tag" >/dev/null  # STOPSIGNAL stays the base's
  docker rm -f "$cid" >/dev/null; trap - EXIT
  log "built $tag in $((SECONDS - start))s"
}

# sidecars_tag FROM: the sidecars image's tag, from their pinned versions and the image they go on
# (offline the base's C library alone, upstream the pulled Debian base).
sidecars_tag() {
  echo "backuppvc/csi-sidecars:$EXTERNAL_PROVISIONER_VERSION-$EXTERNAL_SNAPSHOTTER_VERSION-$(echo "$1" | hash_of)"
}

# build_sidecars FROM: the sidecars image, if missing.
build_sidecars() {
  local tag c bins=()
  tag=$(sidecars_tag "$1")
  have_image "$tag" && return
  log "building $tag"
  "$root/hack/tools.sh" csi-provisioner csi-snapshotter >&2
  for c in csi-provisioner csi-snapshotter; do bins+=("$("$root/hack/tools.sh" --path "$c")"/*); done
  build_image "$tag" "$1" "${bins[@]}"
}

# build_ours: the emulator and data mover images; prints their tags.
build_ours() {
  local out="$work/ours" tag
  rm -rf "$out"; mkdir -p "$out"
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$out/" ./drivers/emulator/cmd/csi-emulator ./reference/cmd/backuppvc-datamover)
  mv "$out/backuppvc-datamover" "$out/velero"
  tag="backuppvc/csi-emulator:$(hash_of <"$out/csi-emulator")"
  have_image "$tag" || { log "building $tag"; build_image "$tag" scratch "$out/csi-emulator"; }
  echo "EMULATOR_IMAGE=$tag"
  tag="backuppvc/datamover:$(hash_of <"$out/velero")"
  if ! have_image "$tag"; then
    log "building $tag"
    printf '%s\n' 'FROM scratch' 'COPY velero /velero' 'ENTRYPOINT ["/velero"]' >"$out/Dockerfile"
    quiet_build "$tag" "$out"
  fi
  echo "DATAMOVER_IMAGE=$tag"
  rm -rf "$out"
}

# build_velero_images: SUT=velero's images (their binaries built by hack/tools.sh if missing); prints
# their tags.
build_velero_images() {
  local out="$work/velero" tag bin
  "$root/hack/tools.sh" velero velero-plugin-for-aws versitygw >&2
  rm -rf "$out"; mkdir -p "$out/root/tmp" "$out/root/plugins"; chmod 1777 "$out/root/tmp"
  bin=$("$root/hack/tools.sh" --path velero)/velero
  tag="backuppvc/velero:$VELERO_VERSION-$( (sha256sum <"$bin"; sed -n '/^build_velero_images()/,/^}/p' "$0" | grep -v '^ *log ') | hash_of)"
  if ! have_image "$tag"; then
    log "building $tag"
    cp "$bin" "$out/root/velero"
    # Velero's own image runs as a user whose HOME is writable; kopia keeps its config and cache there.
    printf '%s\n' 'FROM scratch' 'COPY root/ /' 'ENV HOME=/tmp' 'ENTRYPOINT ["/velero"]' \
      "LABEL io.backuppvc.built-by=hack/kind/images.sh" >"$out/Dockerfile"
    quiet_build "$tag" "$out"
    rm -f "$out/root/velero"
  fi
  echo "VELERO_IMAGE=$tag"
  bin=$("$root/hack/tools.sh" --path velero-plugin-for-aws)/velero-plugin-for-aws
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$out/root/cp-plugin" ./hack/kind/cp-plugin)
  tag="backuppvc/velero-plugin-for-aws:$VELERO_PLUGIN_FOR_AWS_VERSION-$( (sha256sum <"$bin" "$out/root/cp-plugin"; sed -n '/^build_velero_images()/,/^}/p' "$0" | grep -v '^ *log ') | hash_of)"
  if ! have_image "$tag"; then
    log "building $tag"
    cp "$bin" "$out/root/plugins/"
    printf '%s\n' 'FROM scratch' 'COPY root/plugins /plugins' 'COPY root/cp-plugin /cp-plugin' \
      'ENTRYPOINT ["/cp-plugin", "/plugins/velero-plugin-for-aws", "/target"]' \
      "LABEL io.backuppvc.built-by=hack/kind/images.sh" >"$out/Dockerfile"
    quiet_build "$tag" "$out"
  fi
  echo "VELERO_PLUGIN_IMAGE=$tag"
  bin=$("$root/hack/tools.sh" --path versitygw)/versitygw
  tag="backuppvc/versitygw:$VERSITYGW_VERSION-$(hash_of <"$bin")"
  have_image "$tag" || { log "building $tag"; build_image "$tag" scratch "$bin" -- /usr/local/bin/versitygw; }
  echo "VERSITYGW_IMAGE=$tag"
  rm -rf "$out"
}

# prune REPO KEEP [PREFIX]: remove the other tags of one of our repositories (starting with
# PREFIX), left by earlier recipes, so the cache does not grow with every change.
prune() {
  docker images --format '{{.Repository}}:{{.Tag}}' "$1" | { grep "^$1:${3:-}" || true; } | { grep -vx "$2" || true; } |
    while read -r old; do docker rmi "$old" >/dev/null 2>&1 && log "removed $old (an earlier recipe)" || true; done
}

main() {
  local base node sidecars start=$SECONDS
  docker version >/dev/null 2>&1 || { log "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-}): hack/kind/docker.sh up starts one"; exit 1; }
  mkdir -p "$work"
  base=$(base_tag)
  if [ "${1:-}" = --velero ]; then
    build_velero_images | tee "$work/velero.env"
    prune backuppvc/velero "$(sed -n 's/^VELERO_IMAGE=//p' "$work/velero.env")"
    prune backuppvc/velero-plugin-for-aws "$(sed -n 's/^VELERO_PLUGIN_IMAGE=//p' "$work/velero.env")"
    prune backuppvc/versitygw "$(sed -n 's/^VERSITYGW_IMAGE=//p' "$work/velero.env")"
    return
  fi
  if [ "${1:-}" = --drivers ]; then
    # A registry answers (upstream node image): our images go on a pulled Debian base, with no
    # debootstrap (which needs root).
    base=$KIND_UPSTREAM_DRIVER_BASE
    have_image "$base" || docker pull -q "$base" >&2
    build_sidecars "$base"
    sidecars=$(sidecars_tag "$base")
    echo "SIDECARS_IMAGE=$sidecars"
    build_ours | tee "$work/ours.env"
    prune_ours
    return
  fi
  "$root/hack/tools.sh" kubernetes kubernetes-node >&2
  node=$(node_tag)
  if have_image "$node"; then
    log "cached: $node"
  else
    have_image "$base" || build_base "$base"
    build_k8s_images "$base"
    build_sidecars "$(glibc_tag "$base")"
    build_node "$node" "$base"
    log "node image ready in $((SECONDS - start))s"
  fi
  echo "NODE_IMAGE=$node"
  sidecars=$(sidecars_tag "$(glibc_tag "$base")")
  echo "SIDECARS_IMAGE=$sidecars"
  prune backuppvc/kind-node "$node" "$KUBERNETES_VERSION-"
  prune backuppvc/kind-base "$base"
  prune backuppvc/kind-glibc "$(glibc_tag "$base")"
  prune_dangling
  build_ours | tee "$work/ours.env"
  prune_ours
}

# prune_dangling: our images whose tags moved to a rebuild (kubeadm's tags stay, the old images
# lose them); only images with our build label.
prune_dangling() {
  docker image prune -f --filter label=io.backuppvc.built-by >/dev/null
}

prune_ours() {
  prune backuppvc/csi-sidecars "$sidecars"
  prune backuppvc/csi-emulator "$(sed -n 's/^EMULATOR_IMAGE=//p' "$work/ours.env")"
  prune backuppvc/datamover "$(sed -n 's/^DATAMOVER_IMAGE=//p' "$work/ours.env")"
}

main "$@"
