#!/usr/bin/env bash
# The collector core as a node addon (host/addon): `profinfer-host record`
# profiles in process with it. Built with node-gyp against the collector's
# static libraries (30_collector.sh) and this Node's own headers, offline.
source "$(dirname "$0")/common.sh"
cd "$PROFINFER_ROOT"

addon=host/addon/build/Release/profinfer.node
inputs=(host/addon/src/addon.cc host/addon/binding.gyp build/collector-c/libpi_core.a build/collector-c/libpi_wire.a)
stale=0
[ -f "$addon" ] || stale=1
for f in "${inputs[@]}"; do
  [ -f "$f" ] || die "$f is missing: the collector must be built first (scripts/setup/30_collector.sh)"
  [ "$f" -nt "$addon" ] && stale=1
done
[ "$stale" = 1 ] || exit 0

step "building the in-process collector addon ($addon)"
# node-gyp would download headers; this Node's installation has them.
nodedir=$(node -p "require('path').resolve(process.execPath, '..', '..')")
[ -f "$nodedir/include/node/node_api.h" ] ||
  die "no Node.js headers in $nodedir/include/node (install the nodejs package that ships them)"
log="$PROFINFER_CACHE/addon-build.log"
if ! npx --no-install node-gyp rebuild --nodedir="$nodedir" --directory=host/addon >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "the addon did not build (full log: $log)"
fi
