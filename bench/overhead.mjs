#!/usr/bin/env node
// Decode slowdown of llama.cpp under profinferd, measured as alternating runs
// in one invocation (this machine is noisy): each round runs llama-bench
// without the collector and then under each configuration, and the slowdown
// of a round is 1 - (tokens/s with) / (tokens/s without) of adjacent runs.
// Reports medians. Never gate CI on these numbers.
//
//   node bench/overhead.mjs [--rounds 5] [--tokens 32] [--types q8_0,f16]
//        [--preset tinyllama-1.1b] [--levels graph,node] [--smoke] [--json OUT]
//        [--counters task-clock,page-faults,context-switches]
//   levels: token, graph, node, node-trap, node-one, node-two, node-one-trap, node-two-trap,
//           node-counters, node-one-counters, node-two-counters (node level with --counters),
//           node-sched, node-counters-sched, graph-sched, token-sched (with --sched)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median, quantile } from './lib/stats.mjs';

const root = resolve(import.meta.dirname, '..');
const cache = process.env.PROFINFER_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'profinfer');
const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    types: { type: 'string', default: 'q8_0,f16' },
    preset: { type: 'string', default: 'tinyllama-1.1b' },
    levels: { type: 'string', default: 'graph,node' },
    smoke: { type: 'boolean', default: false },
    json: { type: 'string' },
    // For the *-counters levels. Software events by default: this VM has no
    // hardware PMU; on a board pass e.g. cycles,instructions,l3d_cache_refill.
    counters: { type: 'string', default: 'task-clock,page-faults,context-switches' },
  },
});
if (opt.smoke) Object.assign(opt, { rounds: '1', tokens: '8', reps: '1', types: 'q8_0', preset: 'tiny' });

const profinferd = join(root, 'build/collector-c/profinferd');
const llamaBench = join(cache, 'llama.cpp/current/bin/llama-bench');
for (const [what, path] of [['profinferd', profinferd], ['llama-bench', llamaBench]]) {
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}: run scripts/setup.sh`);
}

function modelPath(type) {
  const cli = join(root, 'host/dist/cli.js');
  execFileSync('node', [cli, 'model', 'generate', '--preset', opt.preset, '--type', type], { stdio: ['ignore', 'ignore', 'inherit'] });
  return execFileSync('node', [cli, 'model', 'path', '--preset', opt.preset, '--type', type], { encoding: 'utf8' }).trim();
}

function benchArgs(model) {
  return [llamaBench, '-m', model, '-p', '0', '-n', opt.tokens, '-t', opt.threads, '-r', opt.reps, '-o', 'json'];
}

/** One llama-bench run, with the collector at `level` or without it.
 * `node-trap` is node level with probes that return at once (the trap's own
 * cost, PROFINFER_TRAP_ONLY); `node-one` / `node-two` (and `-trap`) force
 * profinferd's --node-probes (one or two probes per node and thread; plain
 * `node` is its default, auto). */
function runOnce(model, level, dir) {
  const trace = join(dir, `${level ?? 'none'}.pftrace`);
  const node = /^node(?:-(one|two))?(-trap)?(-counters)?(-sched)?$/.exec(level ?? '');
  const graph = /^(graph|token)(-sched)?$/.exec(level ?? '');
  const collectorLevel = node ? 'node' : graph ? graph[1] : level;
  const nodeProbes = node?.[1] ? ['--node-probes', node[1]] : [];
  const counters = node?.[3] ? ['--counters', opt.counters] : [];
  const sched = node?.[4] || graph?.[2] ? ['--sched'] : [];
  const argv = level
    ? [profinferd, 'record', '-o', trace, '--level', collectorLevel, ...nodeProbes, ...counters, ...sched, '--', ...benchArgs(model)]
    : benchArgs(model);
  const env = node?.[2] ? { ...process.env, PROFINFER_TRAP_ONLY: '1' } : process.env;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, env });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const tg = JSON.parse(r.stdout).find((t) => t.n_gen > 0);
  const out = { tokensPerS: tg.avg_ts };
  if (level) {
    const m = /Recorded (\d+) tokens, (\d+) graphs, (\d+) node events .*; lost (\d+); .*peak RSS ([\d.]+) MB, CPU ([\d.]+) s/.exec(r.stderr);
    if (!m) throw new Error(`no collector summary in: ${r.stderr.slice(-1000)}`);
    Object.assign(out, {
      tokens: +m[1], graphs: +m[2], nodeEvents: +m[3], lost: +m[4], rssMB: +m[5], cpuS: +m[6],
      traceBytes: statSync(trace).size,
    });
  }
  return out;
}

const levels = opt.levels.split(',');
const results = [];
const dir = mkdtempSync(join(tmpdir(), 'profinfer-bench-'));
try {
  for (const type of opt.types.split(',')) {
    const model = modelPath(type);
    runOnce(model, undefined, dir); // warm the page cache
    const rounds = [];
    for (let i = 0; i < +opt.rounds; i++) {
      const base = runOnce(model, undefined, dir);
      const round = { base };
      for (const level of levels) round[level] = runOnce(model, level, dir);
      rounds.push(round);
      process.stderr.write(
        `${opt.preset} ${type} round ${i + 1}/${opt.rounds}: base ${base.tokensPerS.toFixed(2)} t/s, ` +
          levels.map((l) => `${l} ${round[l].tokensPerS.toFixed(2)}`).join(', ') + '\n',
      );
    }
    for (const level of levels) {
      const runs = rounds.map((r) => r[level]);
      const last = runs[runs.length - 1];
      results.push({
        model: `${opt.preset} ${type}`,
        level,
        baseTokensPerS: median(rounds.map((r) => r.base.tokensPerS)),
        tokensPerS: median(runs.map((r) => r.tokensPerS)),
        slowdownPct: 100 * median(rounds.map((r) => 1 - r[level].tokensPerS / r.base.tokensPerS)),
        slowdownIqrPct: [0.25, 0.75].map((q) => 100 * quantile(rounds.map((r) => 1 - r[level].tokensPerS / r.base.tokensPerS), q)),
        baseSpreadPct: 100 * (quantile(rounds.map((r) => r.base.tokensPerS), 0.75) / quantile(rounds.map((r) => r.base.tokensPerS), 0.25) - 1),
        nodeEventsPerRun: last.nodeEvents,
        lost: Math.max(...runs.map((r) => r.lost)),
        rssMB: Math.max(...runs.map((r) => r.rssMB)),
        collectorCpuS: median(runs.map((r) => r.cpuS)),
        bytesPerNodeEvent: last.nodeEvents ? last.traceBytes / last.nodeEvents : undefined,
      });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const header = '| model | level | base t/s | with t/s | decode slowdown (median) | IQR of slowdown | node events/run | lost | collector RSS | collector CPU s/run | trace bytes/node event |';
const rows = results.map((r) =>
  `| ${r.model} | ${r.level} | ${r.baseTokensPerS.toFixed(2)} | ${r.tokensPerS.toFixed(2)} | ${r.slowdownPct.toFixed(2)} % | ` +
    `${r.slowdownIqrPct[0].toFixed(2)} .. ${r.slowdownIqrPct[1].toFixed(2)} % | ` +
    `${r.nodeEventsPerRun} | ${r.lost} | ${r.rssMB.toFixed(1)} MB | ${r.collectorCpuS.toFixed(2)} | ${r.bytesPerNodeEvent?.toFixed(2) ?? '-'} |`,
);
console.log([
  `llama-bench tg${opt.tokens} x${opt.reps} per run, ${opt.threads} threads, ${opt.rounds} alternating rounds, medians; ` +
    `${cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}`,
  '',
  header,
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2));
