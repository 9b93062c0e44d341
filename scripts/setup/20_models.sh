#!/usr/bin/env bash
# Test models: llama-architecture GGUF files with random weights (models cannot
# be downloaded here), written by `profinfer-host model generate` into
# $PROFINFER_CACHE/models/<generator version>/<preset>-<type>.gguf.
#   tiny, moe             f16 and q8_0 (a few MB each, under a second)
#   tinyllama-1.1b        q8_0 (~1.2 GB, ~15 s); f16 (~2.2 GB) only with PROFINFER_MODELS=all
# Idempotent: the host is rebuilt only when a source is newer than its build,
# and the generator skips files that exist (it writes a temp name, then renames).
source "$(dirname "$0")/common.sh"
cd "$PROFINFER_ROOT"

CLI=host/dist/cli.js
if [ ! -f "$CLI" ] || [ -n "$(find host/src host/package.json host/tsconfig.json -newer "$CLI" -print -quit)" ]; then
  step "building profinfer-host"
  npm run build -w host --silent >&2 || die "failed to build the host: npm run build -w host"
fi

MODELS=(tiny:f16 tiny:q8_0 moe:f16 moe:q8_0 tinyllama-1.1b:q8_0)
[ "${PROFINFER_MODELS:-}" = all ] && MODELS+=(tinyllama-1.1b:f16)

for m in "${MODELS[@]}"; do
  preset="${m%%:*}" type="${m##*:}"
  path="$(node "$CLI" model path --preset "$preset" --type "$type")" || die "failed to resolve the path of $preset $type"
  [ -f "$path" ] && continue
  step "generating test model $preset $type"
  node "$CLI" model generate --preset "$preset" --type "$type" >/dev/null || die "failed to generate $preset $type"
  note "$path ($(du -h "$path" | cut -f1))"
done
exit 0
