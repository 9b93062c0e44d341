#!/usr/bin/env node
// llama.cpp's own in-engine inspection (llama-eval-callback: a ggml_backend_sched
// eval callback that prints every tensor) against the plain engine on the same
// prompt (llama-completion -n 1, same threads, no warm-up), for issue 11.
// eval-callback decodes the prompt once and generates nothing, so there is a
// prefill figure only. The prompt decode of both is timed by profinferd at token
// level (two probe hits per llama_decode, the same in both, ~0.05 ms), so the
// comparison excludes model loading. Alternating rounds, paired medians.
//
//   node bench/eval_callback.mjs [--preset tinyllama-1.1b] [--type q8_0]
//        [--prompt 64] [--rounds 5] [--smoke] [--json OUT]
import './lib/one_line_errors.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evalCallbackOps, llamaBin, modelPath, promptOf, requireProfinferd, root } from './lib/engine.mjs';
import { median, pairedSlowdownPct } from './lib/stats.mjs';
import { watchedRun } from './lib/watched_run.mjs';

const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tinyllama-1.1b' },
    type: { type: 'string', default: 'q8_0' },
    prompt: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    smoke: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log('node bench/eval_callback.mjs [--preset tinyllama-1.1b] [--type q8_0] [--prompt 64] [--threads 2] [--rounds 5] [--smoke] [--json OUT]\n' +
    'Prefill slowdown of llama-eval-callback against llama-completion on the same prompt; tensors printed and bytes.');
  process.exit(0);
}
if (opt.smoke) Object.assign(opt, { preset: 'tiny', prompt: '8', rounds: '1' });
for (const k of ['prompt', 'threads', 'rounds']) if (!/^\d+$/.test(opt[k]) || +opt[k] < 1) throw new Error(`--${k} must be a positive integer`);

const profinferd = requireProfinferd();
const cli = join(root, 'host/dist/cli.js');
const model = modelPath(opt.preset, opt.type);
const prompt = promptOf(+opt.prompt);
const dir = mkdtempSync(join(tmpdir(), 'profinfer-evalcb-'));

/** The prompt's llama_decode (the call with the most tokens): tokens and seconds. */
async function promptDecode(argv, name) {
  const trace = join(dir, `${name}.pftrace`);
  const r = await watchedRun([profinferd, 'record', '-o', trace, '--level', 'token', '--', ...argv]);
  const summary = join(dir, `${name}.json`);
  execFileSync('sh', ['-c', 'node "$1" summary --json "$2" > "$3"', 'sh', cli, trace, summary]);
  const tokens = (JSON.parse(readFileSync(summary, 'utf8')).tokens ?? []).map((t) => ({ n: Number(t.n_tokens), s: Number(t.duration_ns) / 1e9 }));
  const p = tokens.reduce((a, t) => (t.n > (a?.n ?? 0) ? t : a), undefined);
  if (!p || !(p.s > 0)) throw new Error(`${name}: no prompt decode in the trace`);
  return { tokens: p.n, seconds: p.s, stdout: r.stdout };
}

const rounds = [];
try {
  for (let i = 0; i < +opt.rounds; i++) {
    const plain = await promptDecode([llamaBin('llama-completion'), '-m', model, '-p', prompt, '-n', '1', '-t', opt.threads, '-no-cnv', '--no-warmup'], `plain-${i}`);
    const cb = await promptDecode([llamaBin('llama-eval-callback'), '-m', model, '-p', prompt, '-t', opt.threads], `cb-${i}`);
    if (plain.tokens !== cb.tokens) process.stderr.write(`eval_callback: prompt tokens differ (plain ${plain.tokens}, eval-callback ${cb.tokens}); rates are per token\n`);
    rounds.push({
      plainRate: plain.tokens / plain.seconds, cbRate: cb.tokens / cb.seconds, cbSeconds: cb.seconds,
      tensors: evalCallbackOps(cb.stdout).length, bytes: Buffer.byteLength(cb.stdout),
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const s = pairedSlowdownPct(rounds.map((r) => r.plainRate), rounds.map((r) => r.cbRate));
const result = {
  model: `${opt.preset} ${opt.type}`, tool: 'llama-eval-callback',
  baseDecodeTokensPerS: null, decodeTokensPerS: null, decodeSlowdownPct: null, decodeSlowdownIqrPct: null,
  basePrefillTokensPerS: median(rounds.map((r) => r.plainRate)), prefillTokensPerS: median(rounds.map((r) => r.cbRate)),
  prefillSlowdownPct: s.median, prefillSlowdownIqrPct: s.iqr,
  eventsPerRun: median(rounds.map((r) => r.tensors)), lostMax: null, toolCpuPct: null, toolRssMB: null,
  traceBytesPerS: median(rounds.map((r) => r.bytes / r.cbSeconds)), rounds: rounds.length,
  notes: 'prefill only (eval-callback generates nothing); in-process: no separate CPU or RSS; prints synchronously, nothing is dropped; bytes/s over the prompt decode',
};
const out = {
  kind: 'compare', smoke: opt.smoke, date: new Date().toISOString(),
  machine: `${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}`,
  command: `node bench/eval_callback.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  workload: `prompt of ${opt.prompt} words, ${opt.threads} threads`, results: [result], unavailable: [],
};
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
console.log(`${result.model}, ${out.workload}, ${opt.rounds} alternating rounds${opt.smoke ? ' (SMOKE: not a measurement)' : ''}: ` +
  `prefill ${f(result.basePrefillTokensPerS)} -> ${f(result.prefillTokensPerS)} tokens/s, slowdown ${f(s.median)} % (IQR ${f(s.iqr[0])} .. ${f(s.iqr[1])}); ` +
  `${result.eventsPerRun} tensors printed, ${f(result.traceBytesPerS)} bytes/s`);
if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2));
