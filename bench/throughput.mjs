#!/usr/bin/env node
// Throughput, cost and timing bias of a probe (issue 11), on a synthetic target
// (bench/targets/rate_target.c) whose function is named llama_decode, so
// profinferd's own planner probes it at token level (entry + return: two events
// per call) exactly as in llama.cpp; bcc and bpftrace get the same plan.
//
// 1. Rate sweep: the target calls the function at each rate for --seconds; a run
//    is loss-free when the tool reports no loss AND its event count equals twice
//    the target's own call count (an independent count). Reports the largest
//    loss-free rate, tool CPU per million events, and the rate the target kept.
// 2. Timing bias: the function spins for --work-ns; alternating plain and traced
//    runs give the extra time per call the caller sees (the probes' cost, every
//    tool) and profinferd's traced duration minus the true one (what its
//    durations overstate).
//
//   node bench/throughput.mjs [--rates 1000,10000,50000,100000,200000,400000]
//        [--seconds 2] [--tools profinferd-token,bcc,bpftrace] [--work-ns 20000]
//        [--calls 20000] [--rounds 5] [--smoke] [--json OUT]
import './lib/one_line_errors.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cache, requireProfinferd, root } from './lib/engine.mjs';
import { probePlan } from './lib/probe_plan.mjs';
import { median, quantile } from './lib/stats.mjs';
import { makeTracer } from './lib/tracers.mjs';
import { watchedRun } from './lib/watched_run.mjs';

const HELP = `node bench/throughput.mjs [options]
  --rates LIST     calls per second to sweep (default 1000,10000,50000,100000,200000,400000)
  --seconds N      seconds per rate (default 2)
  --tools LIST     profinferd-token, bcc, bpftrace (default: all three)
  --work-ns N      duration of each call in the bias runs (default 20000)
  --calls N        calls per bias run (default 20000)
  --rounds N       alternating plain/traced bias rounds (default 5)
  --smoke          seconds in all (CI); --json OUT writes the results`;

const { values: opt } = parseArgs({
  options: {
    rates: { type: 'string', default: '1000,10000,50000,100000,200000,400000' },
    seconds: { type: 'string', default: '2' },
    tools: { type: 'string', default: 'profinferd-token,bcc,bpftrace' },
    'work-ns': { type: 'string', default: '20000' },
    calls: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    smoke: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
if (opt.smoke) Object.assign(opt, { rates: '2000', seconds: '1', calls: '500', rounds: '1' });
const rates = opt.rates.split(',').map(Number);
for (const [k, v] of [['seconds', opt.seconds], ['work-ns', opt['work-ns']], ['calls', opt.calls], ['rounds', opt.rounds], ...rates.map((r) => ['rates', String(r)])]) {
  if (!/^\d+$/.test(v) || +v < 1) throw new Error(`--${k} must be positive integers, not '${v}'`);
}

const profinferd = requireProfinferd();
const benchCache = join(cache, 'bench');
mkdirSync(benchCache, { recursive: true });

/** Builds the target with the flags that give llama_decode a push-first prologue,
 * as llama.cpp's has (so the kernel emulates the probed instruction, as there). */
function buildTarget() {
  const src = join(root, 'bench/targets/rate_target.c');
  const bin = join(benchCache, 'rate_target');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    execFileSync('cc', ['-O2', '-g', '-fno-inline', '-fno-omit-frame-pointer', '-fno-shrink-wrap', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

/** The target's own JSON line (its independent call count and call durations). */
function targetReport(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('{"calls"'));
  if (!line) throw new Error(`rate_target printed no report: ${stdout.slice(0, 300)}`);
  const r = JSON.parse(line);
  for (const k of ['calls', 'elapsed_ns', 'rate_hz', 'call_ns_median']) {
    if (!Number.isFinite(r[k])) throw new Error(`rate_target report lacks ${k}`);
  }
  return r;
}

const target = buildTarget();
const plan = probePlan(profinferd, target, 'token');
const tools = [];
const unavailable = [];
for (const name of opt.tools.split(',')) {
  const t = makeTracer(name, { profinferd, plan, cacheDir: benchCache });
  const why = t.missing();
  if (why) unavailable.push({ tool: name, reason: why });
  else tools.push(t);
}

const dir = mkdtempSync(join(tmpdir(), 'profinfer-throughput-'));
const sweep = [];
const bias = [];
try {
  for (const t of tools) {
    for (const rate of rates) {
      const runDir = join(dir, `${t.name}-${rate}`);
      mkdirSync(runDir);
      const w = t.wrap([target, '--rate', String(rate), '--seconds', opt.seconds], runDir);
      const r = await watchedRun(w.argv, { env: w.env });
      const c = t.collect(r, w.files);
      const tr = targetReport(r.stdout);
      const expected = 2 * tr.calls;
      const cpuS = c.selfCpuS ?? r.tracerCpuS;
      sweep.push({
        tool: t.name, requestedHz: rate, achievedHz: tr.rate_hz, calls: tr.calls,
        expectedEvents: expected, events: c.events, lost: c.lost, missing: expected - c.events,
        lossFree: c.lost === 0 && c.events === expected,
        toolCpuS: cpuS, toolCpuSPerMillionEvents: c.events ? (cpuS * 1e6) / c.events : null,
        traceBytesPerEvent: c.events ? c.traceBytes / c.events : null,
      });
      process.stderr.write(`${t.name} @ ${rate}/s: kept ${tr.rate_hz.toFixed(0)}/s, events ${c.events}/${expected}, lost ${c.lost}\n`);
      rmSync(runDir, { recursive: true, force: true });
    }
  }

  // Timing bias. Every tool: the extra time per call the caller sees (from the
  // target's own clock). profinferd also: its traced duration minus the true one.
  const biasArgs = [target, '--work-ns', opt['work-ns'], '--calls', opt.calls];
  const rounds = [];
  for (let i = 0; i < +opt.rounds; i++) {
    const round = { plainNs: targetReport((await watchedRun(biasArgs)).stdout).call_ns_median };
    for (const t of tools) {
      const runDir = join(dir, `bias-${t.name}-${i}`);
      mkdirSync(runDir);
      const w = t.wrap(biasArgs, runDir);
      const traced = targetReport((await watchedRun(w.argv, { env: w.env })).stdout);
      round[t.name] = { callerNs: traced.call_ns_median };
      if (t.name === 'profinferd-token') {
        const summaryFile = join(runDir, 'summary.json');
        execFileSync('sh', ['-c', 'node "$1" summary --json "$2" > "$3"', 'sh', join(root, 'host/dist/cli.js'), w.files.trace, summaryFile]);
        const durations = (JSON.parse(readFileSync(summaryFile, 'utf8')).tokens ?? []).map((x) => Number(x.duration_ns)).filter(Number.isFinite);
        if (durations.length !== traced.calls) throw new Error(`trace has ${durations.length} token durations for ${traced.calls} calls`);
        round[t.name].traceNs = median(durations);
      }
      rmSync(runDir, { recursive: true, force: true });
    }
    rounds.push(round);
  }
  const iqr = (xs) => [quantile(xs, 0.25), quantile(xs, 0.75)];
  for (const t of tools) {
    const added = rounds.map((r) => r[t.name].callerNs - r.plainNs);
    const over = rounds.map((r) => r[t.name].traceNs - r.plainNs).filter(Number.isFinite);
    bias.push({
      tool: t.name, workNs: +opt['work-ns'], calls: +opt.calls, rounds: rounds.length,
      plainCallNsMedian: median(rounds.map((r) => r.plainNs)),
      addedCallerNsMedian: median(added), addedCallerNsIqr: iqr(added),
      traceMinusTrueNsMedian: over.length ? median(over) : null, traceMinusTrueNsIqr: over.length ? iqr(over) : null,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const maxLossFree = tools.map((t) => {
  const ok = sweep.filter((s) => s.tool === t.name && s.lossFree);
  return { tool: t.name, maxLossFreeHz: ok.length ? Math.max(...ok.map((s) => s.achievedHz)) : null };
});
const out = {
  kind: 'throughput', smoke: opt.smoke, date: new Date().toISOString(),
  machine: `${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}`,
  command: `node bench/throughput.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  sweep, maxLossFree, bias, unavailable,
};
const f = (x, n = 2) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(n));
console.log([
  `rate_target, ${opt.seconds} s per rate; ${out.machine}, ${out.date.slice(0, 10)}${opt.smoke ? ' (SMOKE: not a measurement)' : ''}`,
  '',
  '| tool | requested /s | kept /s | events / expected | lost | loss-free | tool CPU s per M events | trace B/event |',
  '|---|---|---|---|---|---|---|---|',
  ...sweep.map((s) => `| ${s.tool} | ${s.requestedHz} | ${f(s.achievedHz, 0)} | ${s.events} / ${s.expectedEvents} | ${s.lost} | ${s.lossFree ? 'yes' : 'no'} | ${f(s.toolCpuSPerMillionEvents)} | ${f(s.traceBytesPerEvent)} |`),
  '',
  ...bias.map((b) => `timing bias (${b.tool}, ${b.workNs} ns calls): caller sees +${f(b.addedCallerNsMedian, 0)} ns per call (IQR ${f(b.addedCallerNsIqr[0], 0)} .. ${f(b.addedCallerNsIqr[1], 0)}); ` +
    (b.traceMinusTrueNsIqr ? `traced duration - true = ${f(b.traceMinusTrueNsMedian, 0)} ns (IQR ${f(b.traceMinusTrueNsIqr[0], 0)} .. ${f(b.traceMinusTrueNsIqr[1], 0)})` : 'no durations read back')),
  ...unavailable.map((u) => `unavailable: ${u.tool}: ${u.reason}`),
].join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2));
