#!/usr/bin/env bash
# Regenerate the golden vectors proto/testdata/<case>.bin from <case>.textproto
# with `protoc --encode`: the independent oracle that the C encoder
# (collector-c/test/golden_test.c) and the TS decoder
# (host/src/decode/golden.test.ts) are checked against. Each textproto names
# its type in a `# proto-message: profinfer.v1.X` line.
# <case>.expected.json is written by hand, never generated: it is what the TS
# decoder must produce.
#
# Usage: scripts/gen_testdata.sh [--check]   (--check: fail on stale .bin files)
# (scripts/gen_proto.sh runs this too.)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TESTDATA=proto/testdata

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
stale=()
n=0
for text in "$TESTDATA"/*.textproto; do
  name="$(basename "$text" .textproto)"
  type="$(sed -n 's/^# proto-message: *//p' "$text")"
  [ -n "$type" ] || { echo "failed to find '# proto-message:' in $text" >&2; exit 1; }
  protoc -I proto --encode="$type" profinfer/v1/profinfer.proto <"$text" >"$tmp/$name.bin"
  n=$((n + 1))
  if [ "$mode" = check ]; then
    cmp -s "$tmp/$name.bin" "$TESTDATA/$name.bin" || stale+=("$TESTDATA/$name.bin")
  else
    cp "$tmp/$name.bin" "$TESTDATA/$name.bin"
  fi
done

if [ ${#stale[@]} -gt 0 ]; then
  echo "golden vectors are stale (run: bash scripts/gen_testdata.sh):" >&2
  printf '  %s\n' "${stale[@]}" >&2
  exit 1
fi
echo "golden vectors: $n cases $([ "$mode" = check ] && echo "up to date" || echo "written")"
