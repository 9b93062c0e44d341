# Shared helpers for the set-up steps. Sourced, not run.
# Everything expensive is cached outside the repository, keyed by version, so
# a fresh clone on the same machine reuses it and a fresh machine builds it.
set -euo pipefail

PROFINFER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROFINFER_CACHE="${PROFINFER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/profinfer}"
export PROFINFER_ROOT PROFINFER_CACHE
mkdir -p "$PROFINFER_CACHE"

# The engine under test: node-llama-cpp ships prebuilt llama.cpp libraries and
# the matching llama.cpp source as a git bundle.
NLC_VERSION="3.22.1"
NLC_DIR="$PROFINFER_CACHE/node-llama-cpp/$NLC_VERSION"
export NLC_VERSION NLC_DIR

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "this needs root (it installs packages and loads BPF programs): run it with sudo"
}
