#!/usr/bin/env bash
# Every issue-11 benchmark in one go, in the order BENCHMARKS.md reports them,
# then the tables and plot. Needs an idle machine (nothing else running: the
# comparisons alternate runs, but two shared cores still swing ±10 %) and the
# benchmark-only tools (bcc, bpftrace, perf; see BENCHMARKS.md); a tool that is
# missing is reported as not measured, never silently left out.
#
#   bash bench/run_all.sh [RESULTS_DIR]     (default bench/results, not committed)
#   ROUNDS=7 bash bench/run_all.sh          rounds of the main comparison (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
rounds=${ROUNDS:-7}
mkdir -p "$out"
log() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)" >&2; }

log "overhead: llama-bench, 1.1B Q8_0 and F16"
node bench/compare.mjs --rounds "$rounds" --types q8_0,f16 --json "$out/compare-1.1b.json"
log "overhead: llama-bench, MoE"
node bench/compare.mjs --rounds 5 --preset moe --types q8_0 --json "$out/compare-moe.json"
log "overhead: node-llama-cpp generation, 1.1B Q8_0"
node bench/compare.mjs --rounds 5 --workload node-llama-cpp --types q8_0 --json "$out/compare-nlc.json"
log "llama-eval-callback against its plain build"
node bench/eval_callback.mjs --rounds 5 --json "$out/evalcb.json"
log "throughput, cost and probe bias"
node bench/throughput.mjs --rounds 5 --json "$out/throughput.json"
log "fidelity"
node bench/fidelity.mjs --rounds 3 --json "$out/fidelity.json"
log "host rates"
node bench/host_rate.mjs --json "$out/host.json"
log "report"
node bench/report.mjs --svg bench/comparative.svg "$out"/compare-1.1b.json "$out"/compare-moe.json \
  "$out"/compare-nlc.json "$out"/evalcb.json "$out"/throughput.json "$out"/fidelity.json "$out"/host.json |
  tee "$out/report.md"
