#!/usr/bin/env node
// Markdown tables (and an SVG plot) for BENCHMARKS.md from the --json results of
// bench/compare.mjs, eval_callback.mjs, throughput.mjs, fidelity.mjs and
// host_rate.mjs. Prints only what the files hold: a missing figure is "-",
// smoke results are labelled as such, and every input is validated first.
//
//   node bench/report.mjs [--svg overhead.svg] RESULTS.json...
import './lib/one_line_errors.mjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { svg: { type: 'string' }, help: { type: 'boolean', default: false } },
});
if (opt.help || !files.length) {
  console.log('node bench/report.mjs [--svg OUT.svg] RESULTS.json...\n' +
    'Tables for BENCHMARKS.md from the --json output of bench/{compare,eval_callback,throughput,fidelity,host_rate}.mjs;\n' +
    '--svg also draws decode and prefill slowdown per tool (median, IQR whiskers).');
  process.exit(files.length || opt.help ? 0 : 2);
}

const num = (x) => typeof x === 'number' && Number.isFinite(x);
const f = (x, d = 2) => (num(x) ? x.toFixed(d) : '-');
const pct = (x) => (num(x) ? `${f(x)} %` : '-');
const range = (r, d = 2) => (Array.isArray(r) && r.every(num) ? `${f(r[0], d)} .. ${f(r[1], d)}` : '-');
const esc = (s) => String(s).replace(/[|<>&]/g, (c) => ({ '|': '\\|', '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]);

const docs = files.map((file) => {
  let d;
  try {
    d = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not JSON (${e.message}); give the --json output of a bench script`);
  }
  if (!d || !['compare', 'throughput', 'fidelity', 'host'].includes(d.kind)) throw new Error(`${file}: kind must be compare, throughput, fidelity or host`);
  return { file, ...d };
});

const out = [];
const header = (d) => `_${esc(d.command)} — ${esc(d.machine)}, ${String(d.date).slice(0, 10)}${d.smoke ? ' — **SMOKE run: sizes too small to mean anything, not a measurement**' : ''}_`;

const compare = docs.filter((d) => d.kind === 'compare');
/** The engine a compare file ran: the same model runs under llama-bench, node-llama-cpp and llama-completion. */
const engineOf = (d) => (/^(llama-bench|node-llama-cpp)/.exec(String(d.workload ?? ''))?.[1] ?? 'llama-completion');
const rows = compare.flatMap((d) => (Array.isArray(d.results) ? d.results : []).map((r) => ({ ...r, model: `${r.model}, ${engineOf(d)}`, smoke: d.smoke })));
if (compare.length) {
  out.push('### Overhead side by side', '', ...compare.map(header), '',
    '| model | tool | decode slowdown (median) | IQR | added µs / decoded token | prefill slowdown (median) | IQR | events / run | lost (max) | tool CPU % | tool RSS MB | trace bytes/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${esc(r.model)}${r.smoke ? ' (smoke)' : ''} | ${esc(r.tool)} | ${pct(r.decodeSlowdownPct)} | ${range(r.decodeSlowdownIqrPct)} | ${f(r.decodeAddedUsPerToken, 0)} | ` +
      `${pct(r.prefillSlowdownPct)} | ${range(r.prefillSlowdownIqrPct)} | ${f(r.eventsPerRun, 0)} | ${num(r.lostMax) ? r.lostMax : '-'} | ` +
      `${f(r.toolCpuPct, 1)} | ${f(r.toolRssMB, 1)} | ${f(r.traceBytesPerS, 0)} |`));
  for (const d of compare) for (const u of d.unavailable ?? []) out.push('', `Not measured: **${esc(u.tool)}** — ${esc(u.reason)}`);
  out.push('');
}
for (const d of docs.filter((x) => x.kind === 'throughput')) {
  out.push('### Throughput, cost and probe bias (synthetic target)', '', header(d), '',
    '| tool | largest loss-free rate (calls/s; 2 events each) |', '|---|---|',
    ...(d.maxLossFree ?? []).map((m) => `| ${esc(m.tool)} | ${num(m.maxLossFreeHz) ? f(m.maxLossFreeHz, 0) : 'none loss-free'} |`), '',
    '| tool | requested /s | kept /s | events / expected | lost | loss-free | tool CPU s per M events | trace B / event |', '|---|---|---|---|---|---|---|---|',
    ...(d.sweep ?? []).map((s) => `| ${esc(s.tool)} | ${s.requestedHz} | ${f(s.achievedHz, 0)} | ${s.events} / ${s.expectedEvents} | ${s.lost} | ${s.lossFree ? 'yes' : 'no'} | ${f(s.toolCpuSPerMillionEvents)} | ${f(s.traceBytesPerEvent)} |`), '',
    ...(Array.isArray(d.nodeSweep) && d.nodeSweep.length ? [
      `Node level: \`graph_target\` (a real GGML graph of ${d.nodeSweep[0].nodesPerGraph} nodes on ${d.nodeSweep[0].threads} threads per llama_decode, ` +
        `node-llama-cpp's ${esc(String(d.nodeSweep[0].cpuLib).split('/').pop())}); every thread passes one probe per node.`, '',
      '| tool | largest loss-free node-event rate (/s) | at graphs/s |', '|---|---|---|',
      ...(d.maxLossFreeNodeEventsPerS ?? []).map((m) => `| ${esc(m.tool)} | ${num(m.nodeEventsPerS) ? f(m.nodeEventsPerS, 0) : 'none loss-free'} | ${f(m.graphsPerS, 0)} |`), '',
      '| tool | requested graphs/s | kept graphs/s | node events/s | node events / expected | lost | loss-free | tool CPU s per M events | trace B / event |', '|---|---|---|---|---|---|---|---|---|',
      ...d.nodeSweep.map((s) => `| ${esc(s.tool)} | ${s.requestedGraphsPerS} | ${f(s.achievedGraphsPerS, 0)} | ${f(s.nodeEventsPerS, 0)} | ${s.nodeEvents} / ${s.expectedNodeEvents} | ${s.lost} | ${s.lossFree ? 'yes' : 'no'} | ${f(s.toolCpuSPerMillionEvents)} | ${f(s.traceBytesPerEvent)} |`), '',
    ] : []),
    '| tool | call of | time added per call, caller\'s view (median) | IQR | traced duration − true (median) | IQR |', '|---|---|---|---|---|---|',
    ...(d.bias ?? []).map((b) => `| ${esc(b.tool)} | ${b.workNs} ns | ${f(b.addedCallerNsMedian, 0)} ns | ${range(b.addedCallerNsIqr, 0)} | ${num(b.traceMinusTrueNsMedian) ? `${f(b.traceMinusTrueNsMedian, 0)} ns` : '-'} | ${range(b.traceMinusTrueNsIqr, 0)} |`), '');
  for (const u of d.unavailable ?? []) out.push(`Not measured: **${esc(u.tool)}** — ${esc(u.reason)}`, '');
}
for (const d of docs.filter((x) => x.kind === 'fidelity')) {
  const s = d.structure ?? {};
  out.push('### Fidelity against the engine\'s own account', '', header(d), '',
    '| run | prompt: trace / engine ms (diff) | decode: trace / engine ms (diff) | decode calls: trace / engine | node durations cover | lost |', '|---|---|---|---|---|---|',
    ...(d.timing ?? []).map((t, i) => `| ${i + 1} | ${f(t.promptTraceMs)} / ${f(t.promptEngineMs)} (${f(t.promptDiffPct)} %) | ${f(t.decodeTraceMs)} / ${f(t.decodeEngineMs)} (${f(t.decodeDiffPct)} %) | ${t.decodeCallsTrace} / ${t.decodeCallsEngine} | ${f(t.nodeCoveragePct)} % | ${t.lost} |`),
    '', `Structure: llama-eval-callback printed ${s.engineTensors ?? '-'} tensors; the trace of the same run holds ${s.traceNodes ?? '-'} nodes in ${s.graphs ?? '-'} graphs; ` +
      `${s.inOrderMatched ?? '-'} of the printed tensors appear in the same order (${f(s.inOrderMatchedPct)} %).`, '');
}
for (const d of docs.filter((x) => x.kind === 'host')) {
  out.push('### Host decode, analysis and export rates', '', header(d), '',
    '| node events | decode (trace → model) | analysis end to end | Perfetto export | model bytes / event | trace bytes / event | Perfetto bytes / event |',
    '|---|---|---|---|---|---|---|',
    `| ${f(d.nodeEvents, 0)} | ${f(d.decodeMPerS)} M/s | ${f(d.analysisEndToEndMPerS)} M/s | ${f(d.perfettoExportMPerS)} M/s (${f(d.perfettoExportPerCpuSecondMPerS)} per CPU s) | ` +
      `${f(d.modelBytesPerEvent, 1)} | ${f(d.traceBytesPerNodeEvent, 1)} | ${f(d.perfettoBytesPerNodeEvent, 1)} |`, '');
}
console.log(out.join('\n'));

if (opt.svg) {
  const bars = rows.filter((r) => num(r.decodeSlowdownPct) || num(r.prefillSlowdownPct));
  const W = 760, rowH = 22, left = 260, top = 40;
  const vals = bars.flatMap((r) => [r.decodeSlowdownPct, r.prefillSlowdownPct, ...(r.decodeSlowdownIqrPct ?? []), ...(r.prefillSlowdownIqrPct ?? [])]).filter(num);
  const lo = Math.min(0, ...vals), hi = Math.max(1, ...vals);
  const x = (v) => left + ((v - lo) / (hi - lo)) * (W - left - 40);
  const H = top + bars.length * rowH * 2 + 40;
  const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14">Slowdown % (median, IQR whiskers): decode (blue), prefill (orange)${rows.some((r) => r.smoke) ? ' — includes SMOKE runs' : ''}</text>`,
    `<line x1="${x(0)}" y1="${top - 5}" x2="${x(0)}" y2="${H - 30}" stroke="#888"/>`];
  bars.forEach((r, i) => {
    const y = top + i * rowH * 2;
    svg.push(`<text x="10" y="${y + rowH}">${esc(`${r.model}${r.smoke ? ' (smoke)' : ''}: ${r.tool}`)}</text>`);
    [[r.decodeSlowdownPct, r.decodeSlowdownIqrPct, '#3b73b9', 0], [r.prefillSlowdownPct, r.prefillSlowdownIqrPct, '#e08a2c', rowH]].forEach(([v, iqr, color, dy]) => {
      if (!num(v)) return;
      const x0 = Math.min(x(0), x(v));
      svg.push(`<rect x="${x0}" y="${y + dy + 4}" width="${Math.abs(x(v) - x(0))}" height="${rowH - 8}" fill="${color}"/>`);
      if (Array.isArray(iqr) && iqr.every(num)) svg.push(`<line x1="${x(iqr[0])}" y1="${y + dy + rowH / 2}" x2="${x(iqr[1])}" y2="${y + dy + rowH / 2}" stroke="#000"/>`);
      svg.push(`<text x="${x(Math.max(v, 0)) + 4}" y="${y + dy + rowH - 6}">${f(v, 1)} %</text>`);
    });
  });
  svg.push(`<text x="${x(lo)}" y="${H - 12}">${f(lo, 0)} %</text><text x="${x(hi) - 30}" y="${H - 12}">${f(hi, 0)} %</text></svg>`);
  writeFileSync(opt.svg, svg.join('\n') + '\n');
}
