#!/usr/bin/env bash
# Install and build everything ProfInfer needs, idempotently. Each step checks
# what is already there and does nothing when it is complete.
source "$(dirname "$0")/setup/common.sh"
require_root
cd "$PROFINFER_ROOT"

bash scripts/setup/apt.sh
# `npm install`, not `npm ci`: the registry here serves only this platform's
# optional packages (rollup, esbuild), so the lock file cannot list the others
# and `npm ci` would refuse it. The lock still pins every version installed.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
   [ package.json -nt node_modules/.package-lock.json ] || [ host/package.json -nt node_modules/.package-lock.json ]; then
  step "npm packages"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
bash scripts/setup/node_llama_cpp.sh
for s in scripts/setup/[0-9]*.sh; do [ -e "$s" ] && bash "$s"; done
exit 0
