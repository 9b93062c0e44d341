#!/usr/bin/env bash
# Builds the collector (BPF programs, profinferd, C unit tests) into build/.
# CMake and make only rebuild what changed, so this is cheap when up to date.
source "$(dirname "$0")/common.sh"
cd "$PROFINFER_ROOT"

step "building the collector (build/collector-c/profinferd)"
log="$PROFINFER_CACHE/collector-build.log"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j"$(nproc)"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "the collector did not build (full log: $log)"
fi
