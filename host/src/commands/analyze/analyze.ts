// Reads a trace into the columnar model, then prints the DAG summary, the
// time tables and the roofline verdicts (host/src/analysis/).
import { access, writeFile } from 'node:fs/promises';
import { readTraceFile, TraceReadError } from '../../decode/stream_reader.js';
import { analyzeModel } from '../../analysis/analysis_set.js';
import { dagToDot, dagToJson, type Dag } from '../../analysis/dag.js';
import { counterReportToJson, counterTables } from '../../analysis/counters.js';
import { contextLines, statsToJson, type TimeStat } from '../../analysis/stats.js';
import { expertReportToJson, expertTables } from '../../analysis/experts.js';
import { rooflineToJson, type Peaks } from '../../analysis/roofline.js';
import { TraceModelBuilder, type TraceModel } from '../../analysis/trace_model.js';
import { schedLines, schedToJson } from '../../analysis/sched.js';
import type { AnalyzeArgs } from './command.js';

/** The --peaks value is not "GFLOPS,GBPS". */
export class PeaksArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

export async function loadTraceModel(path: string): Promise<{ model: TraceModel; warning?: string }> {
  await access(path).catch(() => {
    throw new Error(`cannot read ${path}: no such file (record one with profinferd record -o ${path} ...)`);
  });
  const builder = new TraceModelBuilder();
  let warning: string | undefined;
  try {
    for await (const raw of readTraceFile(path)) builder.add(raw);
  } catch (err) {
    if (!(err instanceof TraceReadError)) throw err;
    builder.truncated = true;
    warning = `${err.message}; analysing the ${err.packetIndex} whole packets before it`;
  }
  return { model: builder.build(), warning };
}

/** A trace to analyse: loaded, its damage reported on stderr, refused when it is no ProfInfer trace. */
export async function loadAnalyzableModel(path: string): Promise<TraceModel> {
  const { model, warning } = await loadTraceModel(path);
  if (warning) process.stderr.write(`warning: ${path}: ${warning}\n`);
  if (!model.session && model.tokens.length === 0 && model.graphs.length === 0)
    throw new Error(`${path} is not a ProfInfer trace (no session, token or graph packets)`);
  return model;
}

export function parsePeaks(text: string): Peaks {
  const parts = text.split(',').map((s) => Number(s.trim()));
  const [gflops, gbps] = parts;
  if (parts.length !== 2 || !(gflops !== undefined && gflops > 0) || !(gbps !== undefined && gbps > 0))
    throw new PeaksArgumentError(`failed to parse --peaks "${text}": expected GFLOPS,GBPS, two positive numbers (e.g. 200,40)`);
  return { gflops, gbps, source: 'user' };
}

const msOf = (ns: number) => (ns / 1e6).toFixed(2);
const pct = (part: number, whole: number) => `${((100 * part) / (whole || 1)).toFixed(1)}%`;
const f = (v: number | undefined, d = 2) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

function timeTable(title: string, rows: [string, TimeStat][], total: number, top: number): string[] {
  const out = ['', `  ${title}`];
  out.push(`  ${'name'.padEnd(26)}${'count'.padStart(8)}${'wall ms'.padStart(11)}${'share'.padStart(8)}${'compute ms'.padStart(12)}${'barrier ms'.padStart(12)}`);
  for (const [k, t] of rows.slice(0, top)) {
    out.push(
      `  ${k.padEnd(26)}${String(t.count).padStart(8)}${msOf(t.wallNs).padStart(11)}${pct(t.wallNs, total).padStart(8)}` +
        `${msOf(t.computeNs).padStart(12)}${msOf(t.barrierNs).padStart(12)}`,
    );
  }
  return out;
}

function largest(dags: readonly Dag[]): Dag | undefined {
  return [...dags].sort((a, b) => b.nodes.length - a.nodes.length || b.graphs - a.graphs)[0];
}

export async function analyzeCommand(args: AnalyzeArgs): Promise<number> {
  const peaks = args.peaks === undefined ? undefined : parsePeaks(args.peaks);
  const model = await loadAnalyzableModel(args.trace);
  const { dags, stats, roofline: roof, sched, counters, experts } = analyzeModel(model, { peaks, expertTable: true });

  if (args.dag !== undefined) {
    if (args.dag.endsWith('.json')) {
      await writeFile(args.dag, JSON.stringify(dags.map(dagToJson), null, 1) + '\n');
    } else {
      const d = largest(dags);
      if (d === undefined) throw new Error(`${args.trace} has no graph structure: record without --no-structure`);
      await writeFile(args.dag, dagToDot(d));
    }
  }

  if (args.json) {
    process.stdout.write(
      JSON.stringify(
        {
          trace: args.trace,
          truncated: model.truncated,
          dags: dags.map((d) => ({
            structure_id: d.structureId,
            graphs: d.graphs,
            nodes: d.nodes.length,
            layers: d.layers,
            critical_path_ns: d.criticalPath.ns,
            critical_path_nodes: d.criticalPath.nodes.length,
          })),
          stats: statsToJson(stats),
          roofline: rooflineToJson(roof),
          ...(sched.present ? { sched: schedToJson(sched) } : {}),
          counters: counterReportToJson(counters),
          experts: expertReportToJson(experts),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }

  const out: string[] = [];
  out.push(`${args.trace}: ${stats.graphs} graphs, ${stats.nodeRows} node events, ${model.threads.length} threads${model.truncated ? '   [trace incomplete]' : ''}`);
  out.push(
    `  tokens   ${stats.prefillTokens} prompt, ${stats.decodeTokens} decoded   TTFT ${f(stats.ttftMs)} ms   ` +
      `TPOT ${f(stats.tpotMs)} ms   ${f(stats.tokensPerS, 1)} tokens/s` +
      (stats.decodeMs ? `   (decode p50 ${f(stats.decodeMs.p50)} p90 ${f(stats.decodeMs.p90)} ms, cv ${f(stats.decodeMs.cv)})` : ''),
  );
  const g = stats.attentionGrowth;
  if (g) {
    out.push(
      `  context  KV-cache attention per decode call ${f(g.interceptNs / 1e3 + (g.slopeNsPerToken * g.firstPast) / 1e3)} us at ${g.firstPast} ` +
        `tokens of KV cache, ${f(g.interceptNs / 1e3 + (g.slopeNsPerToken * g.lastPast) / 1e3)} us at ${g.lastPast} ` +
        `(${f(g.slopeNsPerToken)} ns more per token, least squares over ${g.points} calls)`,
    );
  }
  for (const d of dags) {
    const sum = d.nodes.reduce((s, n) => s + (n.executions ? n.wallNs / n.executions : 0), 0);
    out.push(
      `  graph ${d.structureId}: ${d.nodes.length} nodes (${d.nodes.filter((n) => !n.view).length} computing), ` +
        `layers ${d.layers.length ? `${d.layers[0]}..${d.layers[d.layers.length - 1]}` : '-'}, ${d.graphs} computes; ` +
        `critical path ${d.criticalPath.nodes.length} nodes ${msOf(d.criticalPath.ns)} ms of ${msOf(sum)} ms node time`,
    );
  }
  if (stats.unstructuredRows) out.push(`  ${stats.unstructuredRows} node events belong to graphs without structure (op unknown)`);
  const total = stats.totalWallNs;
  out.push(...timeTable('top operators (wall: first start to last end across threads)', [...stats.ops], total, args.top));
  out.push(...timeTable('blocks', [...stats.blocks], total, args.top));
  out.push(...timeTable('layers (-1: embeddings and output)', [...stats.layers].map(([k, v]) => [String(k), v] as [string, TimeStat]), total, 1000));
  out.push('', '  threads');
  out.push(`  ${'tid'.padEnd(10)}${'ith'.padStart(5)}${'rows'.padStart(8)}${'compute ms'.padStart(12)}${'barrier ms'.padStart(12)}${'busy'.padStart(8)}`);
  for (const t of stats.threads) {
    out.push(
      `  ${String(t.tid).padEnd(10)}${String(t.ith).padStart(5)}${String(t.rows).padStart(8)}${msOf(t.computeNs).padStart(12)}` +
        `${msOf(t.barrierNs).padStart(12)}${pct(t.computeNs, t.computeNs + t.barrierNs).padStart(8)}`,
    );
  }
  if (sched.present) out.push(...schedLines(sched));
  out.push(
    '',
    `  roofline: peaks ${f(roof.peaks.gflops, 1)} GFLOP/s, ${f(roof.peaks.gbps, 1)} GB/s (${roof.peaks.source}); ridge ${f(roof.ridge)} flop/byte`,
    `  evidence: ${roof.evidence}`,
  );
  out.push(`  ${'op'.padEnd(26)}${'wall ms'.padStart(10)}${'flop/B'.padStart(9)}${'GFLOP/s'.padStart(10)}${'GB/s'.padStart(9)}${'bound'.padStart(9)}${'of roof'.padStart(9)}`);
  for (const r of roof.ops.slice(0, args.top)) {
    out.push(
      `  ${r.key.padEnd(26)}${msOf(r.wallNs).padStart(10)}${f(r.intensity).padStart(9)}${f(r.gflops).padStart(10)}` +
        `${f(r.gbps).padStart(9)}${r.verdict.padStart(9)}${pct(r.efficiency, 1).padStart(9)}`,
    );
  }
  out.push('', '  slowest nodes (graph, node index, tensor name; wall summed over computes)');
  out.push(`  ${'node'.padEnd(34)}${'op'.padEnd(16)}${'wall ms'.padStart(10)}${'GFLOP/s'.padStart(10)}${'GB/s'.padStart(9)}${'bound'.padStart(9)}`);
  for (const r of roof.nodes.slice(0, args.top)) {
    const where = `${r.structureId}#${r.index} ${r.name}`.slice(0, 33);
    out.push(
      `  ${where.padEnd(34)}${r.key.slice(0, 15).padEnd(16)}${msOf(r.wallNs).padStart(10)}${f(r.gflops).padStart(10)}` +
        `${f(r.gbps).padStart(9)}${r.verdict.padStart(9)}`,
    );
  }
  out.push(...contextLines(stats.contexts));
  out.push(...counterTables(counters, args.top));
  out.push(...expertTables(experts, args.top));
  if (args.dag !== undefined) out.push('', `  DAG written to ${args.dag}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
