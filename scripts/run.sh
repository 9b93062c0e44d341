#!/usr/bin/env bash
# The main job: profile a real llama.cpp inference on a generated model and
# show where the token time goes. Installs and builds what is missing first.
#
#   sudo scripts/run.sh [--model tinyllama-1.1b|tiny|moe] [--type q8_0|f16]
#                       [--tokens N] [--threads N] [--level node|graph|token]
#                       [--engine llama.cpp|node-llama-cpp] [-o TRACE]
#                       [--counters LIST] [--no-sched]
# Node level records every node on every thread, the scheduler's view of the
# threads and per-node software counters (add cycles,instructions where the
# CPU has a PMU); --model moe adds each token's expert ids.
source "$(dirname "$0")/setup/common.sh"

model=tinyllama-1.1b type=q8_0 tokens=64 threads=2 level=node engine=llama.cpp out=""
counters=task-clock,page-faults sched=1
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --level) level=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    -o|--output) out=$2; shift 2 ;;
    --counters) counters=$2; shift 2 ;;
    --no-sched) sched=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$model" in tinyllama-1.1b|tiny|moe) ;; *) die "--model must be tinyllama-1.1b, tiny or moe" ;; esac
case "$type" in q8_0|f16) ;; *) die "--type must be q8_0 or f16" ;; esac
case "$level" in node|graph|token) ;; *) die "--level must be node, graph or token" ;; esac
[[ "$tokens" =~ ^[0-9]+$ && "$threads" =~ ^[0-9]+$ ]] || die "--tokens and --threads take numbers"

require_root
bash "$PROFINFER_ROOT/scripts/setup.sh"
cd "$PROFINFER_ROOT"

host() { node host/dist/cli.js "$@"; }
host model generate --preset "$model" --type "$type" >&2   # cached: instant when present
model_path=$(host model path --preset "$model" --type "$type")
[ -f "$model_path" ] || die "no model at $model_path"

mkdir -p profinfer-out
[ -n "$out" ] || out="profinfer-out/$(date +%Y%m%d-%H%M%S)-$model-$type.pftrace"
prompt="Profiling llama.cpp with eBPF shows where each token spends its time"
case "$engine" in
  llama.cpp)
    cmd=("$PROFINFER_CACHE/llama.cpp/current/bin/llama-completion" -m "$model_path" -p "$prompt"
         -n "$tokens" -t "$threads" --temp 0 -no-cnv --no-warmup) ;;
  node-llama-cpp)
    cmd=(node test/workloads/nlc_generate.mjs --model "$model_path" --tokens "$tokens" --threads "$threads"
         --prompt "$prompt") ;;
  *) die "--engine must be llama.cpp or node-llama-cpp" ;;
esac

extras=()
if [ "$level" = node ] && [ -n "$counters" ]; then extras+=(--counters "$counters"); fi
if [ "$level" = node ] && [ "$model" = moe ]; then extras+=(--moe); fi
if [ "$sched" = 1 ] && [ "$level" != token ]; then extras+=(--sched); fi
step "profiling ${cmd[0]##*/} on $model ($type), $tokens tokens, $threads threads, $level level ${extras[*]}"
build/collector-c/profinferd record -o "$out" --level "$level" "${extras[@]}" -- "${cmd[@]}" >/dev/null 2>"$out.log" || {
  tail -n 20 "$out.log" >&2; die "profinferd failed (log: $out.log)"; }
grep '^profinferd:' "$out.log" >&2 || true
echo
host summary "$out"
report="${out%.pftrace}.html"
host report "$out" -o "$report" >/dev/null 2>>"$out.log" || note "no HTML report (see $out.log)"
cat <<EOT

Trace: $out
Report: $report (one file, opens offline in any browser)
  node host/dist/cli.js open $out            # open it in the Perfetto UI (served from 127.0.0.1:9001)
  node host/dist/cli.js analyze $out         # per op / layer / thread, DAG, memory- or compute-bound
  node host/dist/cli.js summary $out --json  # every figure, for scripts
  (engine output and the collector's log: $out.log)
EOT
