#!/usr/bin/env node
// Fidelity of profinferd against the engine's own account of the same run (issue 11).
//
// 1. Timing: llama-simple under profinferd at node level prints llama.cpp's own
//    llama_perf_context totals; compared with the trace's llama_decode durations
//    (prompt decode vs "prompt eval time", the rest vs "eval time"), the decode
//    call count with 1 + the engine's eval runs (an independent count), and the
//    share of decode time the recorded node durations cover.
// 2. Structure: llama-eval-callback under profinferd prints every tensor the
//    scheduler computes, in order; compared with the (name, op) sequence of the
//    graph structures in the trace of the same run (longest common subsequence).
//
//   node bench/fidelity.mjs [--preset tinyllama-1.1b] [--type q8_0] [--tokens 32]
//        [--prompt 32] [--rounds 3] [--smoke] [--json OUT]
import './lib/one_line_errors.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evalCallbackOps, llamaBin, llamaPerfContext, modelPath, promptOf, requireProfinferd, root } from './lib/engine.mjs';
import { median } from './lib/stats.mjs';
import { watchedRun } from './lib/watched_run.mjs';

const HELP = `node bench/fidelity.mjs [--preset tinyllama-1.1b] [--type q8_0] [--tokens 32] [--prompt 32] [--rounds 3] [--smoke] [--json OUT]
Compares profinferd's token and node durations with llama_perf_context's totals
(llama-simple), and its recorded graph structure with llama-eval-callback's op order.`;
const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tinyllama-1.1b' },
    type: { type: 'string', default: 'q8_0' },
    tokens: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    smoke: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
if (opt.smoke) Object.assign(opt, { preset: 'tiny', tokens: '8', prompt: '8', rounds: '1' });
for (const k of ['tokens', 'prompt', 'rounds']) if (!/^\d+$/.test(opt[k]) || +opt[k] < 1) throw new Error(`--${k} must be a positive integer`);

const profinferd = requireProfinferd();
const cli = join(root, 'host/dist/cli.js');
const model = modelPath(opt.preset, opt.type);
const dir = mkdtempSync(join(tmpdir(), 'profinfer-fidelity-'));

/** Runs host CLI `args` on a trace into a JSON file (large outputs: no pipe to node). */
function hostJson(args, file) {
  execFileSync('sh', ['-c', 'node "$@" > "$OUT"', 'sh', cli, ...args], { env: { ...process.env, OUT: file }, stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Longest common subsequence length of two string lists (O(n*m), a few thousand each at most). */
function lcs(a, b) {
  let prev = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const cur = new Uint32Array(b.length + 1);
    for (let j = 1; j <= b.length; j++) cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    prev = cur;
  }
  return prev[b.length];
}

const pct = (a, b) => (100 * (a - b)) / b;
const timing = [];
let structure;
try {
  for (let i = 0; i < +opt.rounds; i++) {
    const trace = join(dir, `simple-${i}.pftrace`);
    const r = await watchedRun([profinferd, 'record', '-o', trace, '--level', 'node', '--',
      llamaBin('llama-simple'), '-m', model, '-n', opt.tokens, promptOf(+opt.prompt)]);
    const perf = llamaPerfContext(r.stderr);
    const s = hostJson(['summary', '--json', trace], join(dir, `simple-${i}.json`));
    const tokens = (s.tokens ?? []).map((t) => ({ n: Number(t.n_tokens), ns: Number(t.duration_ns) }));
    if (!tokens.length || tokens.some((t) => !Number.isFinite(t.ns))) throw new Error('trace summary has no token durations');
    const [prompt, ...rest] = tokens;
    const decodeNs = rest.reduce((x, t) => x + t.ns, 0);
    const nodeNs = Object.values(s.ops ?? {}).reduce((x, o) => x + Number(o.total_ns ?? 0), 0);
    timing.push({
      promptTraceMs: prompt.ns / 1e6, promptEngineMs: perf.promptEvalMs, promptDiffPct: pct(prompt.ns / 1e6, perf.promptEvalMs),
      promptTokensTrace: prompt.n, promptTokensEngine: perf.promptTokens,
      decodeTraceMs: decodeNs / 1e6, decodeEngineMs: perf.evalMs, decodeDiffPct: pct(decodeNs / 1e6, perf.evalMs),
      decodeCallsTrace: tokens.length, decodeCallsEngine: 1 + perf.evalRuns,
      nodeCoveragePct: (100 * nodeNs) / (prompt.ns + decodeNs),
      lost: Number(s.lost_events ?? NaN),
    });
  }

  // Structure: one run of llama-eval-callback, recorded; its printout is the oracle.
  const trace = join(dir, 'eval-callback.pftrace');
  const r = await watchedRun([profinferd, 'record', '-o', trace, '--level', 'node', '--',
    llamaBin('llama-eval-callback'), '-m', model, '-p', promptOf(+opt.prompt), '-t', '2']);
  const engineOps = evalCallbackOps(r.stdout);
  if (!engineOps.length) throw new Error(`llama-eval-callback printed no tensors: ${r.stdout.slice(0, 300)}`);
  const dagFile = join(dir, 'dag.json');
  execFileSync('node', [cli, 'analyze', trace, '--dag', dagFile], { stdio: 'ignore' });
  const dag = JSON.parse(readFileSync(dagFile, 'utf8'));
  if (!Array.isArray(dag)) throw new Error('analyze --dag wrote no list of graphs');
  const traceOps = [...dag].sort((a, b) => Number(a.structure_id) - Number(b.structure_id))
    .flatMap((g) => (g.nodes ?? []).map((n) => ({ name: String(n.name), op: String(n.op) })));
  const key = (o) => `${o.name}|${o.op}`;
  const matched = lcs(engineOps.map(key), traceOps.map(key));
  const firstDiff = engineOps.findIndex((o, i) => key(o) !== (traceOps[i] && key(traceOps[i])));
  structure = {
    engineTensors: engineOps.length, traceNodes: traceOps.length, graphs: dag.length,
    inOrderMatched: matched, inOrderMatchedPct: (100 * matched) / engineOps.length,
    identical: matched === engineOps.length && engineOps.length === traceOps.length,
    firstDifference: firstDiff < 0 ? null : { index: firstDiff, engine: engineOps[firstDiff], trace: traceOps[firstDiff] ?? null },
  };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const m = (k) => median(timing.map((t) => t[k]));
const out = {
  kind: 'fidelity', smoke: opt.smoke, date: new Date().toISOString(),
  machine: `${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}`,
  command: `node bench/fidelity.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  model: `${opt.preset} ${opt.type}`, timing, structure,
  medians: Object.fromEntries(['promptDiffPct', 'decodeDiffPct', 'nodeCoveragePct'].map((k) => [k, m(k)])),
};
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
console.log([
  `${out.model}, llama-simple -n ${opt.tokens}, ${opt.rounds} runs; ${out.machine}, ${out.date.slice(0, 10)}${opt.smoke ? ' (SMOKE: not a measurement)' : ''}`,
  '',
  '| run | prompt: trace ms / engine ms (diff) | decode: trace ms / engine ms (diff) | decode calls trace / engine | node coverage of decode time | lost |',
  '|---|---|---|---|---|---|',
  ...timing.map((t, i) => `| ${i + 1} | ${f(t.promptTraceMs)} / ${f(t.promptEngineMs)} (${f(t.promptDiffPct)} %) | ${f(t.decodeTraceMs)} / ${f(t.decodeEngineMs)} (${f(t.decodeDiffPct)} %) | ` +
    `${t.decodeCallsTrace} / ${t.decodeCallsEngine} | ${f(t.nodeCoveragePct)} % | ${t.lost} |`),
  '',
  `structure (llama-eval-callback): ${structure.engineTensors} tensors printed, ${structure.traceNodes} nodes in ${structure.graphs} recorded graphs, ` +
    `${structure.inOrderMatched} in the same order (${f(structure.inOrderMatchedPct)} %)` +
    (structure.firstDifference ? `; first difference at #${structure.firstDifference.index}: engine ${JSON.stringify(structure.firstDifference.engine)}, trace ${JSON.stringify(structure.firstDifference.trace)}` : '; identical'),
].join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2));
