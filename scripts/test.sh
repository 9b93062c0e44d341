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
ctest --test-dir build --output-on-failure | tee build/ctest.log
step "generated code is up to date"
bash scripts/gen_proto.sh --check
step "TypeScript type check"
npx tsc -p host/tsconfig.json --noEmit
step "TypeScript and end-to-end tests (vitest)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=build/vitest.json "$@" || status=$?
# One plain closing line for people and CI: C and TypeScript tests together.
node -e '
  const v = require("./build/vitest.json");
  const c = require("fs").readFileSync("build/ctest.log", "utf8").match(/(\d+) tests failed out of (\d+)/);
  const cFailed = c ? +c[1] : 0, cTotal = c ? +c[2] : 0;
  console.log(`${v.numPassedTests + cTotal - cFailed} passed, ${v.numFailedTests + cFailed} failed`);
' || true
exit $status
