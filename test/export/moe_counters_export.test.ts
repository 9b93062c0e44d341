// export --format perfetto|json of a real MoE recording with per-node counters:
// profinferd records llama-simple on the generated MoE model with --moe and
// software counters (this machine has no hardware PMU), and the export is read
// back with our Perfetto schema (perfetto_check.ts) and compared with the
// source packets, decoded here independently of the exporter's timeline:
// - every ExpertRouting is one slice on its layer's track under the process,
//   with the packet's ids, at its ts_ns, ending when its MUL_MAT_ID node ends;
// - every measured counter row is one sample on its thread's counter track,
//   delta per µs of the span it covers; unmeasured rows draw nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport } from '../../host/src/commands/export/export.js';
import { checkPerfettoTrace, type CheckedTrace } from '../../host/src/export/perfetto_check.js';
import { longToBigInt, type v1 } from '../../host/src/proto.js';
import {
  type DecodedTrace, batchRows, readTrace, requireProfinferd, requireRoot, runProfinferd,
} from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

const COUNTERS = ['task-clock', 'page-faults'];

let dir: string;
let source: DecodedTrace;
let routings: v1.IExpertRouting[];
let trace: CheckedTrace;
let jsonEvents: Record<string, unknown>[];

beforeAll(async () => {
  requireRoot();
  requireProfinferd();
  dir = mkdtempSync(join(tmpdir(), 'pi-moe-export-'));
  const tracePath = join(dir, 'moe.pftrace');
  const run = await runProfinferd([
    'record', '-o', tracePath, '--moe', '--counters', COUNTERS.join(','), '--',
    llamaBin('llama-simple'), '-m', ensureModel('moe', 'q8_0'), '-n', '4', 'hello world',
  ]);
  expect(run.code, run.stderr.slice(-3000)).toBe(0);
  source = await readTrace(tracePath);
  expect(source.error).toBeUndefined();
  routings = source.packets.flatMap((p) => (p.expertRouting ? [p.expertRouting] : []));
  const out = join(dir, 'moe.perfetto-trace');
  await runExport({ trace: tracePath, output: out, format: 'perfetto', progress: false });
  trace = checkPerfettoTrace(new Uint8Array(readFileSync(out)));
  const jOut = join(dir, 'moe.json');
  await runExport({ trace: tracePath, output: jOut, format: 'json', progress: false });
  jsonEvents = (JSON.parse(readFileSync(jOut, 'utf8')) as { traceEvents: Record<string, unknown>[] }).traceEvents;
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Latest end (ns) of a node on any thread, from the source batches. */
function nodeEnd(graphId: bigint, nodeIndex: number): bigint | undefined {
  let end: bigint | undefined;
  for (const b of source.batches.get(graphId) ?? []) {
    for (const r of batchRows(b)) {
      if (r.nodeIndex === nodeIndex && (end === undefined || r.startNs + r.computeNs > end)) end = r.startNs + r.computeNs;
    }
  }
  return end;
}

const idRows = (r: v1.IExpertRouting): string => {
  const ids = r.expertIds ?? [];
  const used = r.nExpertUsed ?? 0;
  const rows: string[] = [];
  for (let i = 0; i < ids.length; i += used) rows.push(ids.slice(i, i + used).join(','));
  return rows.join(';');
};

describe('export of a --moe recording (moe q8_0, llama-simple -n 4)', () => {
  it('draws every routing on its layer track under the process, with the packet ids, over its MUL_MAT_ID node', () => {
    expect(routings.length).toBeGreaterThan(0);
    const tracks = [...trace.tracks.values()];
    const pid = source.processes[0]?.pid;
    const process = tracks.find((t) => t.pid === pid && t.tid === undefined && !t.counter && t.parent === undefined);
    const layers = new Set(routings.map((r) => r.layer ?? -1));
    const layerTracks = tracks.filter((t) => t.name?.startsWith('MoE layer'));
    expect(layerTracks.map((t) => t.name).sort()).toEqual([...layers].map((l) => `MoE layer ${l}`).sort());
    expect(layerTracks.every((t) => t.parent === process?.uuid)).toBe(true);

    const drawn = trace.slices.filter((s) => layerTracks.some((t) => t.uuid === s.track));
    expect(drawn).toHaveLength(routings.length);
    const want = routings.map((r) => {
      const ts = longToBigInt(r.tsNs);
      const end = nodeEnd(longToBigInt(r.graphId), r.nodeIndex ?? 0);
      expect(end, `node ${r.nodeIndex} of graph ${r.graphId} has node events`).toBeDefined();
      const name = (r.nTokens ?? 0) === 1 ? `experts ${(r.expertIds ?? []).join(',')}` : `${r.nTokens} tokens`;
      return `L${r.layer} ${name} ${ts}..${end} g${longToBigInt(r.graphId)} n${r.nodeIndex} ${idRows(r)}`;
    });
    const got = drawn.map((s) => {
      const layer = layerTracks.find((t) => t.uuid === s.track)?.name?.replace('MoE layer ', '');
      expect(s.args['layer']).toBe(Number(layer));
      return `L${layer} ${s.name} ${s.start}..${s.end} g${s.args['graph_id']} n${s.args['node_index']} ${s.args['expert_ids']}`;
    });
    expect(got.sort()).toEqual(want.sort());
    // The prompt's routings are batches: one per prompt token.
    expect(drawn.some((s) => typeof s.args['n_tokens'] === 'number' && s.args['n_tokens'] > 1 && s.args['tokens_per_expert'] !== undefined)).toBe(true);
  });

  it('gives each layer a pseudo-thread of the same slices in Chrome JSON', () => {
    const layerTids = new Map(
      jsonEvents
        .filter((e) => e['name'] === 'thread_name' && String((e['args'] as { name: string }).name).startsWith('MoE layer'))
        .map((e) => [e['tid'], (e['args'] as { name: string }).name]),
    );
    expect(layerTids.size).toBe(new Set(routings.map((r) => r.layer)).size);
    const x = jsonEvents.filter((e) => e['ph'] === 'X' && layerTids.has(e['tid']));
    expect(x).toHaveLength(routings.length);
    expect(x.map((e) => (e['args'] as { expert_ids: string }).expert_ids).sort()).toEqual(routings.map(idRows).sort());
  });

  it('draws every measured counter row as a rate on its thread\'s counter track, nothing for unmeasured rows', () => {
    const names = new Map((source.packets.flatMap((p) => (p.counter ? [p.counter] : []))).map((c) => [c.counterId ?? 0, c.name ?? '']));
    expect([...names.values()].sort()).toEqual([...COUNTERS].sort());
    const want = new Map<string, string[]>(); // "tid name" -> "ts value"
    let unmeasured = 0;
    for (const b of [...source.batches.values()].flat()) {
      const rows = batchRows(b);
      for (const col of b.counters ?? []) {
        const missing = new Set(col.unmeasuredRow ?? []);
        unmeasured += missing.size;
        const deltas = (col.delta ?? []).map((d) => Number(longToBigInt(d)));
        let v = 0;
        rows.forEach((r, i) => {
          if (missing.has(i)) return;
          const delta = deltas[v++] as number;
          const from = col.includesPreviousBarrier && i > 0 ? r.startNs - (rows[i - 1]?.barrierNs ?? 0n) : r.startNs;
          const span = r.startNs + r.computeNs - from;
          if (span <= 0n) return;
          const k = `${b.tid} ${names.get(col.counterId ?? 0)}/µs`;
          want.set(k, [...(want.get(k) ?? []), `${from} ${(delta * 1000) / Number(span)}`]);
        });
      }
    }
    expect(want.size).toBeGreaterThan(0);
    const tracks = [...trace.tracks.values()];
    const got = new Map<string, string[]>();
    for (const c of trace.counters) {
      const parent = tracks.find((t) => t.uuid === tracks.find((u) => u.uuid === c.track)?.parent);
      if (parent?.tid === undefined) continue; // process and session counters
      const k = `${parent.tid} ${c.name}`;
      got.set(k, [...(got.get(k) ?? []), `${c.ts} ${c.value}`]);
    }
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(got.get(k)?.sort(), k).toEqual(v.sort());
    // Unmeasured rows exist in a real recording (first row of each thread and graph, CPU moves).
    expect(unmeasured).toBeGreaterThan(0);
  });
});
