#!/usr/bin/env bash
# The ArkTS linter for ohos-app (ohos-typescript's ArkTSLinter, the rules
# hvigor's ArkTSCheck applies). A separate npm tree on purpose: its tsc and
# tsserver would replace TypeScript's in the root node_modules/.bin.
source "$(dirname "$0")/common.sh"
cd "$PROFINFER_ROOT/ohos-app/tools/arkts-lint"

[ -d node_modules/ohos-typescript ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] && exit 0
step "ArkTS linter (ohos-app/tools/arkts-lint)"
npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
  npm install --no-audit --no-fund --loglevel=error >/dev/null ||
  die "could not install ohos-typescript into ohos-app/tools/arkts-lint"
