# Sourced by the scripts under hack/: exports every pin of hack/versions.env that the environment
# does not already set (a variable of the same name overrides a pin), sets $cache, the folder for
# what they build, outside the clone, and defines module_dir.
while IFS='=' read -r key value; do
  case "$key" in ''|\#*) continue ;; esac
  [ -n "${!key:-}" ] || export "$key=$value"
done < "$(dirname "${BASH_SOURCE[0]}")/versions.env"
cache=${BACKUPPVC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backuppvc-conformance}

# module_dir MODULE@VERSION: the module's folder in the Go module cache, downloaded if needed.
module_dir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }
