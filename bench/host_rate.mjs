#!/usr/bin/env node
// Host-side rates (issue 11, "host decode and analysis rate"): how fast
// profinfer-host reads a trace (decode into the columnar model), analyzes it
// (DAG, per-op stats, roofline) and exports it for Perfetto, in node events per
// second. Runs the host's own benchmarks on a synthetic trace made of a real one
// (test/support/synthetic_trace.ts: a recorded decode graph repeated), each in
// its own process, --reps times, and reports medians.
//
//   node bench/host_rate.mjs [--events 2000000] [--reps 3] [--smoke] [--json OUT]
import './lib/one_line_errors.mjs';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from './lib/engine.mjs';
import { median } from './lib/stats.mjs';

const HELP = `node bench/host_rate.mjs [options]
Host decode, analysis and Perfetto export rates on a synthetic trace (node events/s).
  --events N   node events in the trace (default 2000000)
  --reps N     runs of each, medians reported (default 3)
  --smoke      a small trace, one run (CI); --json OUT writes the results`;

const { values: opt } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    reps: { type: 'string', default: '3' },
    smoke: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
if (opt.smoke) Object.assign(opt, { events: '50000', reps: '1' });
for (const k of ['events', 'reps']) if (!/^\d+$/.test(opt[k]) || +opt[k] < 1) throw new Error(`--${k} must be a positive integer, not '${opt[k]}'`);

const tsx = (script, args, nodeFlags = []) =>
  execFileSync(process.execPath, [...nodeFlags, '--import', 'tsx', join(root, script), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 16 << 20 });
const match = (re, text, what) => {
  const m = re.exec(text);
  if (!m) throw new Error(`${what}: unexpected output: ${text.slice(0, 400)}`);
  return m;
};

const analysis = [];
for (let i = 0; i < +opt.reps; i++) {
  const text = tsx('test/analysis/bench.mts', [opt.events], ['--expose-gc']);
  const m = match(/^(\d+) node events .*load \d+ ms = ([\d.]+) M\/s; analysis \d+ ms; end to end ([\d.]+) M\/s; model ([\d.]+) bytes per node event/m, text, 'analysis bench');
  analysis.push({ nodeEvents: +m[1], decodeMPerS: +m[2], endToEndMPerS: +m[3], modelBytesPerEvent: +m[4] });
  process.stderr.write(`analysis run ${i + 1}/${opt.reps}: ${text.trim()}\n`);
}
const exportText = tsx('test/export/bench.mts', [opt.events, opt.reps, 'perfetto', root]);
const e = match(/median ([\d.]+) M\/s; per CPU second ([\d.]+) M\/s; ([\d.]+) MB out/, exportText, 'export bench');
const inMB = +match(/([\d.]+) MB in\)/, exportText, 'export bench')[1];
process.stderr.write(`export: ${exportText.trim()}\n`);

const out = {
  kind: 'host', smoke: opt.smoke, date: new Date().toISOString(),
  machine: `${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}, Node ${process.versions.node}`,
  command: `node bench/host_rate.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  nodeEvents: analysis[0].nodeEvents, runs: +opt.reps,
  traceBytesPerNodeEvent: (inMB * 1e6) / analysis[0].nodeEvents,
  decodeMPerS: median(analysis.map((a) => a.decodeMPerS)),
  analysisEndToEndMPerS: median(analysis.map((a) => a.endToEndMPerS)),
  modelBytesPerEvent: median(analysis.map((a) => a.modelBytesPerEvent)),
  perfettoExportMPerS: +e[1], perfettoExportPerCpuSecondMPerS: +e[2],
  perfettoBytesPerNodeEvent: (+e[3] * 1e6) / analysis[0].nodeEvents,
};
console.log([
  `${out.nodeEvents} node events, ${out.runs} runs, medians; ${out.machine}, ${out.date.slice(0, 10)}${opt.smoke ? ' (SMOKE: not a measurement)' : ''}`,
  '',
  '| decode (trace → model) | analysis end to end | Perfetto export | model bytes / event | trace bytes / event | Perfetto bytes / event |',
  '|---|---|---|---|---|---|',
  `| ${out.decodeMPerS.toFixed(2)} M/s | ${out.analysisEndToEndMPerS.toFixed(2)} M/s | ${out.perfettoExportMPerS.toFixed(2)} M/s (${out.perfettoExportPerCpuSecondMPerS.toFixed(2)} per CPU s) | ` +
    `${out.modelBytesPerEvent.toFixed(1)} | ${out.traceBytesPerNodeEvent.toFixed(1)} | ${out.perfettoBytesPerNodeEvent.toFixed(1)} |`,
].join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2));
