#!/usr/bin/env node
// Overhead of profinferd against the tools a user would otherwise pick (issue 11):
// profinferd in each configuration (token + graph up to node level with the
// scheduler and counters, and sampled), a BCC (Python) tracer and bpftrace with
// profinferd's own probes, and perf sampling at ~1 kHz with call graphs. Each
// round runs the engine (llama-bench, or a node-llama-cpp generation) once plain
// and once under every tool, in one invocation, alternating (this machine is noisy);
// per-round paired slowdowns give medians and IQRs for decode (tg) and prefill
// (pp). Per tool: events recorded and lost (the tool's own counters), tool CPU %
// of the run's wall time and peak RSS (from /proc), trace bytes per second.
// llama.cpp's in-engine inspection is bench/eval_callback.mjs (it cannot run
// llama-bench). Never gate CI on these numbers; --smoke only proves it runs.
//
//   node bench/compare.mjs [--rounds 5] [--tokens 32] [--prompt 64] [--reps 2]
//        [--threads 2] [--types q8_0,f16] [--preset tinyllama-1.1b]
//        [--workload llama-bench|node-llama-cpp] [--tools LIST] [--smoke] [--json OUT]
import './lib/one_line_errors.mjs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cache, modelPath, requireProfinferd } from './lib/engine.mjs';
import { probePlan } from './lib/probe_plan.mjs';
import { median, pairedAddedUsPerToken, pairedSlowdownPct } from './lib/stats.mjs';
import { makeTracer } from './lib/tracers.mjs';
import { watchedRun } from './lib/watched_run.mjs';
import { llamaBenchWorkload, nodeLlamaCppWorkload } from './lib/workloads.mjs';

const DEFAULT_TOOLS = 'profinferd-graph,profinferd-structure,profinferd-node,profinferd-sched,profinferd-counters,' +
  'profinferd-sampled,bcc,bpftrace,perf';

const HELP = `node bench/compare.mjs [options]

Paired, alternating engine runs: plain, then under each tool; medians and IQRs.
  --workload W    llama-bench (default) or node-llama-cpp (a generation through
                  node-llama-cpp's prebuilt libraries, as an app would run it)
  --rounds N      alternating rounds (default 5)
  --tokens N      decode tokens per run (llama-bench tg test; generated tokens; default 32)
  --prompt N      prompt tokens (llama-bench pp test, 0 skips it; default 64)
  --reps N        llama-bench repetitions per run (default 2)
  --threads N     inference threads (default 2)
  --types LIST    model types of the preset (default q8_0,f16)
  --preset NAME   generated model preset (default tinyllama-1.1b; tiny, moe)
  --tools LIST    default: all of
                    profinferd-graph      token + graph level, no graph structure
                    profinferd-structure  + graph structure (graph level)
                    profinferd-node       every node on every thread (the default level)
                    profinferd-sched      + scheduler (--sched)
                    profinferd-counters   + counters (task-clock,page-faults,context-switches)
                    profinferd-sampled    node level on 1 llama_decode in 8 (--sample-every 8)
                    bcc                   a BCC (Python) tracer with the same probes
                    bpftrace              bpftrace with the same probes
                    perf                  perf record -F 1000 -g
                  also: profinferd-token, profinferd-node-two (two probes per node)
  --smoke         one tiny round of everything (seconds; CI)
  --json OUT      write the results as JSON (bench/report.mjs reads it)
A tool that cannot run here is listed under "unavailable" with the reason.`;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '64' },
    reps: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    types: { type: 'string', default: 'q8_0,f16' },
    preset: { type: 'string', default: 'tinyllama-1.1b' },
    workload: { type: 'string', default: 'llama-bench' },
    tools: { type: 'string', default: DEFAULT_TOOLS },
    smoke: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
if (opt.smoke) Object.assign(opt, { rounds: '1', tokens: '4', prompt: '8', reps: '1', types: 'q8_0', preset: 'tiny' });
for (const k of ['rounds', 'tokens', 'prompt', 'reps', 'threads']) {
  if (!/^\d+$/.test(opt[k]) || (k !== 'prompt' && +opt[k] < 1)) throw new Error(`--${k} must be a positive integer, not '${opt[k]}'`);
}
if (!['llama-bench', 'node-llama-cpp'].includes(opt.workload)) throw new Error(`--workload must be llama-bench or node-llama-cpp, not '${opt.workload}'`);

const profinferd = requireProfinferd();
const workload = opt.workload === 'llama-bench' ? llamaBenchWorkload(opt) : nodeLlamaCppWorkload(opt);
const benchCache = join(cache, 'bench');
mkdirSync(benchCache, { recursive: true });

/** The tools for one engine: competitors get profinferd's probe plan of the files the engine runs. */
function toolsFor(engineFiles, unavailable) {
  let plan;
  const tools = [];
  for (const name of opt.tools.split(',')) {
    if (!name.startsWith('profinferd-')) plan ??= probePlan(profinferd, engineFiles);
    const t = makeTracer(name, { profinferd, plan, cacheDir: benchCache });
    const why = t.missing();
    if (!why) tools.push(t);
    else if (!unavailable.some((u) => u.tool === name)) {
      unavailable.push({ tool: name, reason: why });
      process.stderr.write(`compare: ${name} skipped: ${why}\n`);
    }
  }
  return tools;
}

const results = [];
const unavailable = [];
const dir = mkdtempSync(join(tmpdir(), 'profinfer-compare-'));
try {
  for (const type of opt.types.split(',')) {
    const model = modelPath(opt.preset, type);
    const cmd = workload.command(model);
    const engineFiles = await workload.engineFiles(model); // also warms the page cache
    const tools = toolsFor(engineFiles, unavailable);
    await watchedRun(cmd);
    const rounds = [];
    for (let i = 0; i < +opt.rounds; i++) {
      const base = workload.rates((await watchedRun(cmd)).stdout);
      const round = { base };
      for (const t of [...tools]) {
        const runDir = join(dir, `${type}-${t.name}-${i}`);
        mkdirSync(runDir);
        try {
          const w = t.wrap(cmd, runDir);
          const r = await watchedRun(w.argv, { env: w.env });
          const c = t.collect(r, w.files);
          round[t.name] = { ...workload.rates(r.stdout), ...c, wallS: r.wallS, cpuS: c.selfCpuS ?? r.tracerCpuS, rssMB: c.selfRssMB ?? r.tracerRssMB };
        } catch (e) {
          // A competitor that fails mid-benchmark is reported, not fatal; our own collector is.
          if (t.name.startsWith('profinferd')) throw e;
          const reason = `failed in round ${i + 1}: ${String(e.message).split('\n').filter(Boolean).slice(-1)[0]?.slice(0, 300)}`;
          unavailable.push({ tool: t.name, reason });
          tools.splice(tools.indexOf(t), 1);
          process.stderr.write(`compare: ${t.name} ${reason}\n`);
        } finally {
          rmSync(runDir, { recursive: true, force: true });
        }
      }
      rounds.push(round);
      process.stderr.write(`${opt.preset} ${type} round ${i + 1}/${opt.rounds}: base ${base.decode.toFixed(2)} t/s, ` +
        tools.map((t) => `${t.name} ${round[t.name].decode.toFixed(2)}`).join(', ') + '\n');
    }
    for (const t of tools) {
      const runs = rounds.map((r) => r[t.name]);
      const decode = pairedSlowdownPct(rounds.map((r) => r.base.decode), runs.map((r) => r.decode));
      const added = pairedAddedUsPerToken(rounds.map((r) => r.base.decode), runs.map((r) => r.decode));
      const prefill = +opt.prompt > 0 ? pairedSlowdownPct(rounds.map((r) => r.base.prefill), runs.map((r) => r.prefill)) : undefined;
      results.push({
        model: `${opt.preset} ${type}`,
        tool: t.name,
        baseDecodeTokensPerS: median(rounds.map((r) => r.base.decode)),
        decodeTokensPerS: median(runs.map((r) => r.decode)),
        decodeSlowdownPct: decode.median,
        decodeSlowdownIqrPct: decode.iqr,
        decodeAddedUsPerToken: added.median,
        decodeAddedUsPerTokenIqr: added.iqr,
        prefillSlowdownPct: prefill?.median ?? null,
        prefillSlowdownIqrPct: prefill?.iqr ?? null,
        eventsPerRun: median(runs.map((r) => r.events)),
        lostMax: Math.max(...runs.map((r) => r.lost)),
        toolCpuPct: median(runs.map((r) => (100 * r.cpuS) / r.wallS)),
        toolRssMB: Math.max(...runs.map((r) => r.rssMB)),
        traceBytesPerS: median(runs.map((r) => r.traceBytes / r.wallS)),
        rounds: runs.length,
        // Every round's figures, for whoever wants another statistic.
        perRound: rounds.map((r) => ({ baseDecode: r.base.decode, basePrefill: r.base.prefill ?? null, decode: r[t.name].decode, prefill: r[t.name].prefill ?? null })),
      });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const out = {
  kind: 'compare',
  smoke: opt.smoke,
  date: new Date().toISOString(),
  machine: `${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}`,
  command: `node bench/compare.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  workload: workload.description,
  results,
  unavailable,
};
const f = (x, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
console.log([
  `${out.workload}, ${opt.rounds} alternating rounds, medians; ${out.machine}, ${out.date.slice(0, 10)}${opt.smoke ? ' (SMOKE: not a measurement)' : ''}`,
  '',
  '| model | tool | decode slowdown | IQR | added µs / token | prefill slowdown | IQR | events/run | lost | tool CPU % | tool RSS MB | trace B/s |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.model} | ${r.tool} | ${f(r.decodeSlowdownPct)} % | ${f(r.decodeSlowdownIqrPct[0])} .. ${f(r.decodeSlowdownIqrPct[1])} | ${f(r.decodeAddedUsPerToken, 0)} | ` +
    `${f(r.prefillSlowdownPct)} % | ${r.prefillSlowdownIqrPct ? `${f(r.prefillSlowdownIqrPct[0])} .. ${f(r.prefillSlowdownIqrPct[1])}` : '-'} | ` +
    `${r.eventsPerRun} | ${r.lostMax} | ${f(r.toolCpuPct, 1)} | ${f(r.toolRssMB, 1)} | ${f(r.traceBytesPerS, 0)} |`),
  ...unavailable.map((u) => `\nunavailable: ${u.tool}: ${u.reason}`),
].join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2));
