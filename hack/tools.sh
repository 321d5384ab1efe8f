#!/usr/bin/env bash
# Builds the pinned upstream binaries from the Go module proxy into a cache outside the clone.
#
#   hack/tools.sh [component...]   build what is missing (default: all) and print the bin dirs
#   hack/tools.sh --path C         print the bin dir of component C (no build)
#
# Components: kubernetes etcd kwok csi-provisioner csi-snapshotter csi-sanity (the local lane), and
# for the kind lane: kubernetes-node (kubelet, kubeadm, kube-proxy), kind, coredns; for SUT=velero:
# velero, velero-plugin-for-aws, versitygw.
# Each component gets its own throwaway module under $BACKUPPVC_CACHE/modules, because the
# upstream modules pin incompatible k8s.io/* versions and some carry replace directives
# (which `go install mod@version` refuses).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/pins.sh"
export GOFLAGS=-mod=mod

all=(kubernetes etcd kwok csi-provisioner csi-snapshotter csi-sanity)
kind_lane=(kubernetes-node kind coredns)
velero_sut=(velero velero-plugin-for-aws versitygw)

version_of() {
  case "$1" in
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    csi-provisioner) echo "$EXTERNAL_PROVISIONER_VERSION" ;;
    csi-snapshotter) echo "$EXTERNAL_SNAPSHOTTER_VERSION" ;;
    csi-sanity) echo "$CSI_TEST_VERSION" ;;
    kubernetes-node) echo "$KUBERNETES_VERSION" ;;
    kind) echo "$KIND_VERSION" ;;
    velero) echo "$VELERO_VERSION" ;;
    velero-plugin-for-aws) echo "$VELERO_PLUGIN_FOR_AWS_VERSION" ;;
    versitygw) echo "$VERSITYGW_VERSION" ;;
    coredns) echo "${COREDNS_VERSION:?COREDNS_VERSION is what kubeadm asks for: hack/kind/images.sh sets it}" ;;
    *) echo "tools: unknown component $1 (known: ${all[*]} ${kind_lane[*]} ${velero_sut[*]})" >&2; return 1 ;;
  esac
}

bindir() { echo "$cache/bin/$1-$(version_of "$1")"; }

# new_module DIR: an empty module to require upstream modules from.
new_module() {
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init backuppvc-tools >/dev/null 2>&1 && printf 'package tools\n' >tools.go)
}

build_kubernetes() {
  build_k8s_cmds "$1" "$2" kube-apiserver kube-controller-manager kube-scheduler kubectl
}

build_kubernetes_node() {
  build_k8s_cmds "$1" "$2" kubelet kubeadm kube-proxy
}

# build_k8s_cmds MOD OUT CMD...: commands of k8s.io/kubernetes at $KUBERNETES_VERSION.
build_k8s_cmds() {
  local v=$KUBERNETES_VERSION mod="$1" out="$2" minor major
  shift 2
  major=$(echo "$v" | cut -d. -f1 | tr -d v); minor=$(echo "$v" | cut -d. -f2)
  (cd "$mod" && go mod edit -require "k8s.io/kubernetes@$v")
  local kdir
  kdir=$(module_dir "k8s.io/kubernetes@$v")
  # Every staging module k8s.io/kubernetes replaces locally comes from the proxy at v0.<minor>.<patch>.
  local staging
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kdir/go.mod" | grep -v -e sample-cli-plugin -e sample-controller)
  for m in $staging; do
    (cd "$mod" && go mod edit -replace "$m=$m@v0.${v#v1.}")
  done
  local pkgs=("${@/#/cmd/}")
  local flags="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
  flags="$flags -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  local versioned=("${pkgs[@]/#/k8s.io/kubernetes/}")
  (cd "$mod" && go get "${versioned[@]/%/@$v}" >/dev/null && go build -ldflags "$flags" -o "$out/" "${pkgs[@]/#/k8s.io/kubernetes/}")
}

build_etcd() {
  local v=$ETCD_VERSION mod="$1" out="$2"
  (cd "$mod" && go get "go.etcd.io/etcd/server/v3@$v" "go.etcd.io/etcd/etcdctl/v3@$v" "go.etcd.io/etcd/api/v3@$v" \
      "go.etcd.io/etcd/client/v3@$v" "go.etcd.io/etcd/client/pkg/v3@$v" "go.etcd.io/etcd/pkg/v3@$v" >/dev/null 2>&1 &&
    go build -o "$out/etcd" go.etcd.io/etcd/server/v3 && go build -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3)
}

build_kwok() {
  local v=$KWOK_VERSION mod="$1" out="$2"
  local flags="-X sigs.k8s.io/kwok/pkg/consts.Version=$v"
  (cd "$mod" && go get "sigs.k8s.io/kwok/cmd/kwok@$v" "sigs.k8s.io/kwok/cmd/kwokctl@$v" &&
    go build -ldflags "$flags" -o "$out/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl)
}

build_kind() {
  local v=$KIND_VERSION mod="$1" out="$2"
  (cd "$mod" && go get "sigs.k8s.io/kind@$v" >/dev/null && go build -o "$out/" sigs.k8s.io/kind)
}

build_coredns() {
  local v=$COREDNS_VERSION mod="$1" out="$2"
  (cd "$mod" && go get "github.com/coredns/coredns@$v" >/dev/null &&
    CGO_ENABLED=0 go build -o "$out/" github.com/coredns/coredns)
}

# build_velero: Velero's command through hack/velero/main.go (its own main with controller-runtime's
# all-interfaces metrics server off), static, versioned as Velero's release builds are.
build_velero() {
  local v=$VELERO_VERSION mod="$1" out="$2" b=github.com/vmware-tanzu/velero/pkg/buildinfo
  cp "$here/velero/main.go" "$mod/main.go"
  rm -f "$mod/tools.go"
  # go get, not go mod tidy: tidy would resolve main.go's own imports (controller-runtime, klog)
  # at their latest versions instead of Velero's.
  (cd "$mod" && go mod edit -replace "github.com/kopia/kopia=$VELERO_KOPIA_REPLACE" &&
    go get "github.com/vmware-tanzu/velero@$v" "k8s.io/cli-runtime@$VELERO_CLI_RUNTIME_VERSION" &&
    CGO_ENABLED=0 go build -ldflags "-X $b.Version=$v -X $b.GitSHA=module-proxy -X $b.GitTreeState=clean -X $b.ImageRegistry=velero" \
      -o "$out/velero" main.go)
}

build_velero_plugin_for_aws() {
  (cd "$1" && CGO_ENABLED=0 GOBIN="$2" go install "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@$VELERO_PLUGIN_FOR_AWS_VERSION")
}

build_versitygw() {
  (cd "$1" && CGO_ENABLED=0 GOBIN="$2" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION")
}

build_csi_provisioner() {
  local v=$EXTERNAL_PROVISIONER_VERSION mod="$1" out="$2"
  local m=github.com/kubernetes-csi/external-provisioner/v6
  copy_replaces "$mod" "$m" "$v"
  (cd "$mod" && go get "$m/cmd/csi-provisioner@$v" >/dev/null && go build -ldflags "-X main.version=$v" -o "$out/" "$m/cmd/csi-provisioner")
}

build_csi_snapshotter() {
  local v=$EXTERNAL_SNAPSHOTTER_VERSION mod="$1" out="$2"
  local m=github.com/kubernetes-csi/external-snapshotter/v8
  copy_replaces "$mod" "$m" "$v"
  (cd "$mod" && go mod edit -dropreplace github.com/kubernetes-csi/external-snapshotter/client/v8 \
      -require "github.com/kubernetes-csi/external-snapshotter/client/v8@$v" &&
    go get "$m/cmd/csi-snapshotter@$v" "$m/cmd/snapshot-controller@$v" >/dev/null &&
    go build -ldflags "-X main.version=$v" -o "$out/" "$m/cmd/csi-snapshotter" "$m/cmd/snapshot-controller")
}

build_csi_sanity() {
  local v=$CSI_TEST_VERSION mod="$1" out="$2"
  local m=github.com/kubernetes-csi/csi-test/v5
  copy_replaces "$mod" "$m" "$v"
  (cd "$mod" && go get "$m/cmd/csi-sanity@$v" >/dev/null && go build -ldflags "-X main.VERSION=$v" -o "$out/" "$m/cmd/csi-sanity")
}

# copy_replaces MOD UPSTREAM VERSION: carry the upstream module's non-local replace lines over.
copy_replaces() {
  local mod="$1" m="$2" v="$3" dir
  (cd "$mod" && go mod edit -require "$m@$v")
  dir=$(module_dir "$m@$v")
  go mod edit -json "$dir/go.mod" | awk '
    /"Replace": \[/ {inr=1} inr && /"Old":/ {getline p; sub(/.*"Path": "/,"",p); sub(/".*/,"",p); old=p}
    inr && /"New":/ {getline p; sub(/.*"Path": "/,"",p); sub(/".*/,"",p); getline q; if (q ~ /"Version"/) {sub(/.*"Version": "/,"",q); sub(/".*/,"",q); print old "=" p "@" q} else if (p !~ /^\./) print old "=" p}' |
    while read -r r; do (cd "$mod" && go mod edit -replace "$r"); done
}

build() {
  local c=$1 out mod start
  out=$(bindir "$c")
  if [ -f "$out/.complete" ]; then
    echo "tools: $c $(version_of "$c") cached in $out"
    return 0
  fi
  mod="$cache/modules/$c-$(version_of "$c")"
  start=$(date +%s)
  echo "tools: building $c $(version_of "$c") (cold builds take minutes; log: $mod.log)"
  new_module "$mod"
  mkdir -p "$out"
  # Not as an if's condition: there bash ignores set -e in the whole function, and a failed step
  # (a go get, a replace carried over) would be swallowed whenever the last one succeeds.
  local rc
  set +e
  (set -e; "build_${c//-/_}" "$mod" "$out") >"$mod.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "tools: building $c $(version_of "$c") failed; last lines of $mod.log:" >&2
    tail -20 "$mod.log" >&2
    return 1
  fi
  touch "$out/.complete"
  echo "tools: built $c $(version_of "$c") in $(( $(date +%s) - start ))s -> $out"
}

if [ "${1:-}" = "--path" ]; then
  bindir "$2"
  exit 0
fi
[ $# -gt 0 ] || set -- "${all[@]}"
for c in "$@"; do version_of "$c" >/dev/null; done
for c in "$@"; do build "$c"; done
