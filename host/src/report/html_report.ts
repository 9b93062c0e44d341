// html_report.ts: `profinfer-host report`: one self-contained HTML file (no
// script, no network: a Content-Security-Policy forbids every fetch) with the
// views people look at first: the summary numbers, time per op type and per
// layer, the token timeline, per-thread compute / barrier spin / scheduler
// states, the expert heat map, the roofline and the DAG of the largest graph.
import type { Dag } from '../analysis/dag.js';
import type { ExpertReport } from '../analysis/experts.js';
import type { Roofline } from '../analysis/roofline.js';
import type { SchedAnalysis } from '../analysis/sched.js';
import type { TraceStats } from '../analysis/stats.js';
import type { TraceModel } from '../analysis/trace_model.js';
import { EventKind } from '../proto.js';
import { dagToSvg } from './dag_svg.js';
import { barChart, esc, fmt, heatMap, lineChart, rooflineChart } from './svg.js';

export interface ReportInput {
  readonly title: string;
  readonly model: TraceModel;
  readonly stats: TraceStats;
  readonly dags: readonly Dag[];
  readonly roofline: Roofline;
  readonly sched?: SchedAnalysis;
  readonly experts?: ExpertReport;
  /** Rows per ranked chart. */
  readonly top?: number;
}

/** The numbers the summary prints, as they appear in the report (tests read them back). */
export interface ReportFacts {
  readonly tokensPerS: string;
  readonly ttftMs: string;
  readonly tpotMs: string;
  readonly nodeEvents: string;
  readonly lost: string;
}

export const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const ms = (ns: number): number => ns / 1e6;
const opt = (v: number | undefined, d = 2): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

export function reportFacts(input: ReportInput): ReportFacts {
  const s = input.stats;
  // Counter values not measured are not lost events (profinfer.proto, LossStats).
  const lost = (input.model.end?.totals?.lost ?? input.model.loss?.lost ?? [])
    .filter((l) => l.kind !== EventKind.EVENT_KIND_COUNTER)
    .reduce((n, l) => n + Number(l.count ?? 0), 0);
  return {
    tokensPerS: opt(s.tokensPerS, 1),
    ttftMs: opt(s.ttftMs),
    tpotMs: opt(s.tpotMs),
    nodeEvents: String(s.nodeRows),
    lost: String(lost),
  };
}

function largest(dags: readonly Dag[]): Dag | undefined {
  return [...dags].sort((a, b) => b.nodes.length - a.nodes.length || b.graphs - a.graphs)[0];
}

function section(id: string, title: string, body: string, note = ''): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${note ? `<p class="note">${esc(note)}</p>` : ''}<div class="chart">${body}</div></section>`;
}

export function renderReport(input: ReportInput): string {
  const { stats: s, model, roofline: roof } = input;
  const top = input.top ?? 15;
  const facts = reportFacts(input);
  const total = s.totalWallNs || 1;
  const parts: string[] = [];

  const cards: [string, string, string][] = [
    ['tokens/s', facts.tokensPerS, 'decode, over the whole run'],
    ['TTFT ms', facts.ttftMs, 'first llama_decode to first decoded token'],
    ['TPOT ms', facts.tpotMs, 'per decoded token'],
    ['tokens', `${s.prefillTokens} + ${s.decodeTokens}`, 'prompt + decoded'],
    ['graphs', String(s.graphs), 'graph computes'],
    ['node events', facts.nodeEvents, `on ${model.threads.length} threads`],
    ['lost', facts.lost, 'events the collector could not write'],
  ];
  parts.push(
    `<div class="cards">${cards.map(([k, v, d]) => `<div class="card" data-fact="${esc(k)}"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div><div class="d">${esc(d)}</div></div>`).join('')}</div>`,
  );
  if (model.truncated) parts.push('<p class="warn">This trace is incomplete (cut while it was written): the views cover its whole packets.</p>');

  const ops = [...s.ops].sort((a, b) => b[1].wallNs - a[1].wallNs).slice(0, top);
  parts.push(
    section(
      'ops',
      'Time per op type',
      barChart(
        ops.map(([k, t]) => ({ label: k, parts: [ms(t.wallNs)], note: `${fmt(ms(t.wallNs))} ms  ${((100 * t.wallNs) / total).toFixed(1)}%` })),
        { title: `top ${ops.length} op types by wall time (first start to last end across threads)`, unit: 'ms' },
      ),
    ),
  );

  const layers = [...s.layers].sort((a, b) => a[0] - b[0]);
  if (layers.length)
    parts.push(
      section(
        'layers',
        'Time per layer',
        barChart(
          layers.map(([k, t]) => ({ label: k < 0 ? 'embeddings / output' : `layer ${k}`, parts: [ms(t.computeNs), ms(t.barrierNs)] })),
          { title: 'compute and barrier wait per layer, summed over threads', unit: 'ms', legend: ['compute', 'barrier wait'] },
        ),
      ),
    );

  const byPhase = (phase: 'prefill' | 'decode') => s.tokens.filter((t) => t.phase === phase).map((t) => [t.seq, ms(t.durationNs)] as const);
  if (s.tokens.length)
    parts.push(
      section(
        'tokens',
        'Token timeline',
        lineChart(
          [
            { name: 'prefill', points: byPhase('prefill') },
            { name: 'decode', points: byPhase('decode') },
          ].filter((x) => x.points.length),
          { title: 'llama_decode duration per call', x: 'call (seq)', y: 'ms', dots: true },
        ),
        s.decodeMs ? `decode p50 ${fmt(s.decodeMs.p50 )} ms, p90 ${fmt(s.decodeMs.p90)} ms, coefficient of variation ${fmt(s.decodeMs.cv)}` : '',
      ),
    );

  if (s.threads.length)
    parts.push(
      section(
        'threads',
        'Per thread: compute and barrier spin',
        barChart(
          s.threads.map((t) => ({ label: `tid ${t.tid} (ith ${t.ith})`, parts: [ms(t.computeNs), ms(t.barrierNs)] })),
          { title: 'node time per thread', unit: 'ms', legend: ['compute', 'barrier wait'] },
        ),
      ),
    );

  if (input.sched?.present && input.sched.threads.length)
    parts.push(
      section(
        'sched',
        'Per thread: scheduler states',
        barChart(
          input.sched.threads.map((t) => ({
            label: `${t.name || 'tid'} ${t.tid}`,
            parts: [ms(t.runningNs), ms(t.runnableNs), ms(t.sleepingNs)],
            note: `${t.preemptions} preemptions`,
          })),
          { title: 'running, runnable (waiting for a CPU) and sleeping', unit: 'ms', legend: ['running', 'runnable', 'sleeping'] },
        ),
        input.sched.threads
          .filter((t) => t.preemptedBy.length)
          .map((t) => `${t.tid} preempted most by ${t.preemptedBy[0]?.comm ?? '?'}`)
          .slice(0, 4)
          .join('; '),
      ),
    );

  const ex = input.experts;
  if (ex && ex.layers.length)
    parts.push(
      section(
        'experts',
        'Expert activations',
        heatMap(
          ex.layers.map((l) => ({ label: `layer ${l.layer}`, values: l.counts })),
          { title: `${ex.decisions} routing decisions, ${ex.nExpertUsed} experts per token`, column: 'expert' },
        ),
        `most imbalanced layer: max/mean ${fmt(Math.max(...ex.layers.map((l) => l.maxOverMean)))}`,
      ),
    );

  const rp = roof.ops.filter((r) => r.verdict !== 'none').slice(0, 12);
  if (rp.length)
    parts.push(
      section(
        'roofline',
        'Memory- or compute-bound',
        rooflineChart(
          rp.map((r) => ({ label: r.key, intensity: r.intensity, gflops: r.gflops })),
          roof.peaks,
          { title: `roofline: peaks ${fmt(roof.peaks.gflops)} GFLOP/s, ${fmt(roof.peaks.gbps)} GB/s (${roof.peaks.source})` },
        ) +
          `<table><tr><th>op</th><th>verdict</th><th>FLOP/B</th><th>GFLOP/s</th><th>GB/s</th><th>of roof</th></tr>${rp
            .map((r) => `<tr><td>${esc(r.key)}</td><td>${r.verdict}-bound</td><td>${fmt(r.intensity)}</td><td>${fmt(r.gflops)}</td><td>${fmt(r.gbps)}</td><td>${(100 * r.efficiency).toFixed(0)}%</td></tr>`)
            .join('')}</table>`,
        roof.evidence,
      ),
    );

  const dag = largest(input.dags);
  if (dag) parts.push(section('dag', 'Operator DAG (largest graph)', dagToSvg(dag), 'critical path in red; shade: share of the graph\u2019s time; hover a box for details'));

  const session = model.session;
  const sub = session
    ? `collector ${session.collectorVersion ?? '?'} on ${session.hostname ?? '?'} (${session.arch ?? '?'}, ${session.kernelRelease ?? '?'})`
    : 'no session packet';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(input.title)} - ProfInfer report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0} h2{font-size:16px;margin:28px 0 6px;border-bottom:1px solid #ddd}
.sub{color:#666;margin:2px 0 16px}.note{color:#555;margin:4px 0}.warn{color:#a33}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}
.card .v{font-size:20px;font-weight:600}.card .k{color:#333}.card .d{color:#888;font-size:12px}
.chart{overflow-x:auto} table{border-collapse:collapse;margin-top:8px} td,th{border:1px solid #ddd;padding:2px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
svg .title{font-weight:600;font-size:13px} svg .label{font-size:12px} svg .small{font-size:11px;fill:#444}
svg .axis{stroke:#333} svg .grid{stroke:#eee}
</style></head><body>
<h1>${esc(input.title)}</h1><p class="sub">${esc(sub)}</p>
${parts.join('\n')}
</body></html>
`;
}
