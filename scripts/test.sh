#!/usr/bin/env bash
# Every test: C unit tests (ctest), then TypeScript unit and end-to-end tests
# (vitest: real collector, real BPF, real llama.cpp). Installs and builds
# what is missing first. Needs root: the end-to-end tests load BPF programs.
source "$(dirname "$0")/setup/common.sh"
require_root
bash "$PROFINFER_ROOT/scripts/setup.sh"
cd "$PROFINFER_ROOT"

# tracefs is where uprobe events live; some systems do not mount it.
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true

step "C unit tests (ctest)"
ctest --test-dir build --output-on-failure
step "generated code is up to date"
bash scripts/gen_proto.sh --check
step "TypeScript type check"
npx tsc -p host/tsconfig.json --noEmit
step "TypeScript and end-to-end tests (vitest)"
npx vitest run "$@"
