#!/usr/bin/env bash
# A Docker engine for the kind lane, without touching one that is already there.
#
#   hack/kind/docker.sh up     print DOCKER_HOST=... for an engine that answers: the one already
#                              reachable (used as it is), or one started here; and
#                              BACKUPPVC_DOCKER_STARTED=1 when this call started it
#   hack/kind/docker.sh down   stop the engine this script started (nothing else)
#   hack/kind/docker.sh can-start   exit 0 when an engine answers or this script can start one
#                              (root, with dockerd installed or apt-get to install it); else say
#                              why on stderr and exit 1
#   hack/kind/docker.sh install     install Debian's docker.io when dockerd is missing (root)
#
# When no engine answers, it installs Debian's docker.io if dockerd is missing (apt-get, as root),
# then starts its own dockerd with its own config, socket, exec root and data root (the data root
# lives in the cache, so built images survive for the next run) and backuppvc-runc as the default
# runtime (see hack/kind/backuppvc-runc), and 127.0.0.1 as the only DNS server its containers'
# embedded resolver may forward to, so a name lookup in a kind node (kind's entrypoint makes one,
# CoreDNS another) ends on this machine instead of at its resolver. /etc/docker and /var/lib/docker
# are never read or written (the daemon's identity key lives in the cache too);
# the bridges, firewall rules and forwarding setting dockerd leaves are put back when it stops.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../pins.sh"
run=/run/backuppvc-docker
sock="unix://$run/docker.sock"
log() { echo "docker: $*" >&2; }

# alive PID: running, not a zombie (a dockerd that failed at start stays one until we exit).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }

reachable() { timeout 10 docker ${1:+-H "$1"} version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# install: Debian's docker.io (dockerd, containerd, runc, and iptables with them) when dockerd or
# docker is missing.
install() {
  if command -v dockerd >/dev/null && command -v docker >/dev/null; then return 0; fi
  [ "$(id -u)" = 0 ] || { log "no Docker engine and not root: install docker.io (or Docker) and start it, or run as root"; exit 1; }
  log "installing Debian's docker.io (dockerd, containerd, runc) with apt-get"
  mkdir -p "$cache"
  local start=$SECONDS
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >"$cache/apt-docker.log" 2>&1 ||
    { apt-get update -q >>"$cache/apt-docker.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >>"$cache/apt-docker.log" 2>&1; } ||
    { log "apt-get install docker.io failed; see $cache/apt-docker.log"; tail -5 "$cache/apt-docker.log" >&2; exit 1; }
  log "installed docker.io in $((SECONDS - start))s"
}

up() {
  if [ -n "${DOCKER_HOST:-}" ] && reachable "$DOCKER_HOST"; then
    log "using the engine at DOCKER_HOST=$DOCKER_HOST as it is"; echo "DOCKER_HOST=$DOCKER_HOST"; echo BACKUPPVC_DOCKER_STARTED=0; return
  fi
  if [ -S "$run/docker.sock" ] && reachable "$sock"; then
    log "using the engine this script started earlier ($sock)"; echo "DOCKER_HOST=$sock"; echo BACKUPPVC_DOCKER_STARTED=0; return
  fi
  if reachable ""; then
    log "using the machine's Docker engine as it is"
    echo "DOCKER_HOST=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || echo unix:///var/run/docker.sock)"
    echo BACKUPPVC_DOCKER_STARTED=0; return
  fi
  install
  [ "$(id -u)" = 0 ] || { log "starting dockerd needs root"; exit 1; }
  mkdir -p "$cache/bin" "$cache/docker" "$run"
  if [ -f "$run/started-by-backuppvc" ] && [ -f "$run/ip-forward-before" ]; then
    # An engine this script started was killed before its down (a killed run): the host still holds
    # its bridges and rules, maybe its containers. Keep the snapshot taken before that engine, so down
    # puts the host back as it was then; the engine started now, on the same data and exec roots,
    # stops the containers the killed one left running.
    local killed; killed=$(cat "$run/started-by-backuppvc")
    if alive "$killed" && [ "$(cat "/proc/$killed/comm" 2>/dev/null)" = dockerd ]; then
      log "the dockerd this script started (pid $killed) runs but does not answer on $sock; stop it with $0 down"; exit 1
    fi
    log "the dockerd this script started earlier (pid $killed) was stopped without down; starting a new one and keeping the host's state from before the first"
    # Its pid files (dockerd's, containerd's) name processes that are gone or zombies nobody reaped
    # yet, which the new engine would take for running ones and wait on.
    local pidfile
    while read -r pidfile; do
      alive "$(cat "$pidfile")" || rm -f "$pidfile"
    done < <(find "$run" -name '*.pid')
  else
    snapshot_host
  fi
  # The wrapper is ours, so build it from this checkout (seconds; cached by Go's build cache).
  (cd "$here/../.." && go build -o "$cache/bin/backuppvc-runc" ./hack/kind/backuppvc-runc)
  cat >"$run/daemon.json" <<JSON
{
  "runtimes": {"backuppvc-runc": {"path": "$cache/bin/backuppvc-runc"}},
  "default-runtime": "backuppvc-runc",
  "storage-driver": "overlay2",
  "dns": ["127.0.0.1"],
  "deprecated-key-path": "$cache/docker-key.json",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m"}
}
JSON
  log "starting dockerd (data root $cache/docker, socket $sock, log $run/dockerd.log)"
  setsid dockerd --config-file "$run/daemon.json" --data-root "$cache/docker" --exec-root "$run/exec" \
    --pidfile "$run/dockerd.pid" -H "$sock" >"$run/dockerd.log" 2>&1 < /dev/null &
  echo $! >"$run/started-by-backuppvc"
  for _ in $(seq 1 120); do
    if reachable "$sock"; then log "dockerd ready"; echo "DOCKER_HOST=$sock"; echo BACKUPPVC_DOCKER_STARTED=1; return; fi
    alive "$(cat "$run/started-by-backuppvc")" || break
    sleep 0.5
  done
  log "dockerd did not answer within 60s; last lines of $run/dockerd.log:"; tail -15 "$run/dockerd.log" >&2
  down; exit 1
}

down() {
  [ -f "$run/started-by-backuppvc" ] || { log "no engine started by this script; nothing to stop"; return; }
  local pid; pid=$(cat "$run/started-by-backuppvc")
  # Only ever signal the dockerd this script started (a stale file may name a reused pid).
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do alive "$pid" || break; sleep 0.5; done
    alive "$pid" && { log "dockerd $pid did not stop in 30s; killing it"; kill -KILL "$pid"; }
  fi
  restore_host
  # dockerd unmounts what it mounted when it stops; a killed one may leave its exec root's mounts.
  { grep -o " $run[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$run"
  log "stopped the dockerd this script started"
}

# dockerd leaves behind, when it stops, the bridges of its networks, its firewall chains and rules,
# a DROP policy on FORWARD and IP forwarding turned on. snapshot_host records those before our
# engine starts; restore_host, after it stopped, removes the bridges, rules and chains that appeared
# meanwhile and puts the policy and the forwarding setting back.
snapshot_host() {
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' >"$run/links-before"
  for t in filter nat; do iptables-save -t "$t" | grep -v '^#' >"$run/iptables-$t-before"; done
  sysctl -n net.ipv4.ip_forward >"$run/ip-forward-before"
}

restore_host() {
  [ -f "$run/ip-forward-before" ] || return 0
  local t line chain policy link
  for t in filter nat; do
    iptables-save -t "$t" | grep '^-A ' | { grep -vxF -f "$run/iptables-$t-before" || true; } |
      while read -r line; do eval "iptables -t $t ${line/#-A/-D}" || log "could not remove iptables -t $t $line"; done
    iptables-save -t "$t" | grep '^:' | awk '{print $1}' | { grep -vxF -f <(awk '/^:/ {print $1}' "$run/iptables-$t-before") || true; } |
      while read -r chain; do iptables -t "$t" -F "${chain#:}" && iptables -t "$t" -X "${chain#:}" || log "could not remove chain ${chain#:} ($t)"; done
  done
  policy=$(awk '/^:FORWARD / {print $2}' "$run/iptables-filter-before")
  [ -n "$policy" ] && iptables -P FORWARD "$policy"
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | { grep -E '^(docker0|br-[0-9a-f]+)$' || true; } |
    { grep -vxF -f "$run/links-before" || true; } | while read -r link; do ip link delete "$link" || log "could not remove $link"; done
  sysctl -qw net.ipv4.ip_forward="$(cat "$run/ip-forward-before")"
}

can_start() {
  if [ -n "${DOCKER_HOST:-}" ] && reachable "$DOCKER_HOST"; then return 0; fi
  if reachable "$sock" || reachable ""; then return 0; fi
  if [ "$(id -u)" != 0 ]; then log "no Docker engine answers and starting one needs root"; return 1; fi
  if command -v dockerd >/dev/null || command -v apt-get >/dev/null; then return 0; fi
  log "no Docker engine, no dockerd and no apt-get to install Debian's docker.io"; return 1
}

case "${1:-}" in
  up) up ;;
  can-start) can_start ;;
  install) install ;;
  down) down ;;
  *) echo "usage: $0 up|down|can-start|install" >&2; exit 2 ;;
esac
