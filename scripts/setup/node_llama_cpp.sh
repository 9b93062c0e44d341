#!/usr/bin/env bash
# node-llama-cpp with only the x64 CPU prebuilt (the plain install also pulls
# ~700 MB of optional CUDA/Vulkan/arm prebuilts that nothing here uses).
source "$(dirname "$0")/common.sh"

stamp="$NLC_DIR/.complete"
[ -f "$stamp" ] && exit 0
step "installing node-llama-cpp $NLC_VERSION (CPU prebuilt) into $NLC_DIR"
rm -rf "$NLC_DIR" && mkdir -p "$NLC_DIR"
cd "$NLC_DIR"
printf '{ "name": "profinfer-engine", "private": true, "type": "module" }\n' > package.json
npm install --no-audit --no-fund --omit=optional --ignore-scripts --loglevel=error \
  "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >/dev/null
[ -f node_modules/node-llama-cpp/llama/gitRelease.bundle ] || die "node-llama-cpp $NLC_VERSION has no llama.cpp source bundle"
touch "$stamp"
