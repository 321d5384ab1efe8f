# Sourced by the scripts under hack/: exports every pin of hack/versions.env that the environment
# does not already set (a variable of the same name overrides a pin), and sets $cache, the folder
# for what they build, outside the clone.
while IFS='=' read -r key value; do
  case "$key" in ''|\#*) continue ;; esac
  [ -n "${!key:-}" ] || export "$key=$value"
done < "$(dirname "${BASH_SOURCE[0]}")/versions.env"
cache=${BACKUPPVC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backuppvc-conformance}
