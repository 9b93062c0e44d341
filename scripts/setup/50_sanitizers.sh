#!/usr/bin/env bash
# The collector once more with AddressSanitizer and UndefinedBehaviorSanitizer
# (dynamically linked: the sanitizers' runtimes cannot be linked statically)
# into build-asan/, for test/reliability/sanitizers.test.ts.
source "$(dirname "$0")/common.sh"
cd "$PROFINFER_ROOT"

step "building the collector with ASan and UBSan (build-asan/)"
log="$PROFINFER_CACHE/collector-build-asan.log"
if ! { cmake -S . -B build-asan -DPROFINFER_SANITIZE=ON -DPROFINFER_STATIC=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build build-asan -j"$(nproc)"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "the sanitizer build did not build (full log: $log)"
fi
