#!/usr/bin/env bash
# Install and build everything ProfInfer needs, idempotently. Each step checks
# what is already there and does nothing when it is complete.
source "$(dirname "$0")/setup/common.sh"
require_root
cd "$PROFINFER_ROOT"

bash scripts/setup/apt.sh
step "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
bash scripts/setup/node_llama_cpp.sh
for s in scripts/setup/[0-9]*.sh; do [ -e "$s" ] && bash "$s"; done
exit 0
