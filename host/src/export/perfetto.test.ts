import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import type { v1 } from '../proto.js';
import { toChromeJson } from './chrome_json.js';
import { toPerfetto } from './perfetto.js';
import { checkPerfettoTrace, type CheckedSlice } from './perfetto_check.js';

// A two-thread decode call built by hand: graph 1 (structure 7: GET_ROWS,
// MUL_MAT, SILU) on tid 100 (main) and tid 101 (worker).
//
//   token   100 ........ 1000 .................................... 2000
//   graph   100 .......... 1100 ............................ 1900
//   nodes   100:  node0 1100+200, wait 50 | node1 1350+300, wait 0 | node2 1650+100 (fused 1)
//           101:  node0 1120+150, wait 80 | node1 1350+280
function decodeCall(): v1.ITracePacket[] {
  return [
    { session: { sessionId: 's', clockMonotonicNs: 900 } },
    {
      engine: {
        pid: 10,
        opNames: ['NONE', 'GET_ROWS', 'MUL_MAT', 'UNARY'],
        unaryOpNames: ['ABS', 'SILU'],
        typeNames: ['f32', 'f16'],
      },
    },
    { process: { pid: 10, cmdline: '/bin/llama-simple -m m.gguf', exe: '/bin/llama-simple' } },
    { thread: { pid: 10, tid: 100, name: 'llama-simple' } },
    { interned: { strings: [{ iid: 1, str: 'inp_embd' }, { iid: 2, str: 'Qcur-3' }, { iid: 3, str: 'CPU' }] } },
    {
      graphStructure: {
        structureId: 7,
        pid: 10,
        nodes: [
          { tensorId: 11, op: 1, type: 0, ne: [64, 1, 1, 1], nameIid: 1, srcTensorIds: [900, 901] },
          { tensorId: 12, op: 2, type: 1, ne: [128, 4, 1, 1], nameIid: 2, srcTensorIds: [902, 11] },
          { tensorId: 13, op: 3, type: 0, ne: [128, 4, 1, 1], subOp: 1, srcTensorIds: [12, 11] },
        ],
      },
    },
    {
      nodeEvents: {
        pid: 10, tid: 100, graphId: 1, startNs: 1100, nodeIndexDelta: [0, 1, 1],
        computeNs: [200, 300, 100], barrierNs: [50, 0, 0], fused: [0, 0, 1], threadIndex: 0,
      },
    },
    {
      nodeEvents: {
        pid: 10, tid: 101, graphId: 1, startNs: 1120, nodeIndexDelta: [0, 1],
        computeNs: [150, 280], barrierNs: [80, 0], threadIndex: 1,
      },
    },
    { graph: { pid: 10, tid: 100, graphId: 1, startNs: 1100, durationNs: 800, nNodes: 3, backendIid: 3, structureId: 7, nThreads: 2 } },
    { token: { pid: 10, tid: 100, startNs: 1000, durationNs: 1000, nTokens: 1, seq: 1, contextId: 0xabc, nodeLevel: true } },
    { loss: { tsNs: 2100, lost: [{ kind: 3, count: 2 }] } },
    { sessionEnd: { tsNs: 2200, reason: 'target exited', totals: { tsNs: 2200, lost: [{ kind: 3, count: 5 }] } } },
  ];
}

const byStart = (a: CheckedSlice, b: CheckedSlice): number => Number(a.start - b.start) || a.depth - b.depth;

describe('toPerfetto', () => {
  it('draws token ⊃ graph ⊃ node on the thread that ran them, with resolved names and args', () => {
    const { bytes, stats } = toPerfetto(decodeCall());
    expect(stats).toMatchObject({ tokens: 1, graphs: 1, nodeEvents: 5, slices: 7, clampedSlices: 0 });
    const trace = checkPerfettoTrace(bytes);

    const main = trace.slices.filter((s) => s.tid === 100).sort(byStart);
    expect(main.map((s) => [s.name, s.depth, Number(s.start), Number(s.end)])).toEqual([
      ['llama_decode', 0, 1000, 2000],
      ['graph CPU', 1, 1100, 1900],
      ['GET_ROWS', 2, 1100, 1300],
      ['MUL_MAT', 2, 1350, 1650],
      ['SILU+1', 2, 1650, 1750],
    ]);
    expect(main[3]?.parent?.name).toBe('graph CPU');
    expect(main[3]?.parent?.parent?.name).toBe('llama_decode');
    expect(main[3]?.args).toEqual({
      op: 'MUL_MAT', type: 'f16', shape: '[128,4,1,1]', name: 'Qcur-3', layer: 3, backend: 'CPU', node_index: 1,
      barrier_wait_ns: 0, graph_id: 1, thread_index: 0,
    });
    expect(main[4]?.args).toMatchObject({ op: 'SILU', fused: 1 });
    expect(main[0]?.args).toEqual({ seq: 1, n_tokens: 1, result: 0, context_id: '0xabc', node_level: true });

    const worker = trace.slices.filter((s) => s.tid === 101).sort(byStart);
    expect(worker.map((s) => [s.name, s.depth, Number(s.start), Number(s.end), s.args['barrier_wait_ns']])).toEqual([
      ['GET_ROWS', 0, 1120, 1270, 80],
      ['MUL_MAT', 0, 1350, 1630, 0],
    ]);
    expect(worker.every((s) => s.pid === 10)).toBe(true);

    const threads = [...trace.tracks.values()].filter((t) => t.tid !== undefined);
    expect(threads.map((t) => [t.tid, t.name])).toEqual([
      [100, 'llama-simple'],
      [101, undefined],
    ]);
    const process = [...trace.tracks.values()].find((t) => t.pid === 10 && t.tid === undefined && !t.counter);
    expect(process?.name).toBe('llama-simple');
  });

  it('writes counter tracks for tokens/s and lost events', () => {
    const trace = checkPerfettoTrace(toPerfetto(decodeCall()).bytes);
    expect(trace.counters.map((c) => [c.name, Number(c.ts), c.value])).toEqual([
      ['tokens/s (per llama_decode)', 1000, 1e6],
      ['lost events (cumulative)', 2100, 2],
      ['lost events (cumulative)', 2200, 5],
    ]);
  });

  it('interns each string once', () => {
    const { bytes } = toPerfetto([...decodeCall(), ...decodeCall().slice(6).map(shiftCall)]);
    const trace = checkPerfettoTrace(bytes);
    expect(trace.slices.filter((s) => s.name === 'MUL_MAT')).toHaveLength(4);
    const text = Buffer.from(bytes).toString('latin1');
    expect(text.split('Qcur-3').length - 1).toBe(1);
    expect(text.split('barrier_wait_ns').length - 1).toBe(1);
  });

  it('draws the node batches of a cut trace (no GraphEvent) without op names', () => {
    const cut = decodeCall().slice(0, 8);
    const { bytes, stats } = toPerfetto(cut);
    expect(stats.orphanBatches).toBe(2);
    const trace = checkPerfettoTrace(bytes);
    expect(trace.slices.map((s) => s.name)).toEqual(['node', 'node', 'node', 'node', 'node']);
  });

  it('keeps nesting when a node ends after its graph (clock skew): the node is cut at the graph end', () => {
    const packets = decodeCall();
    const batch = packets[6]?.nodeEvents as v1.INodeEventBatch;
    batch.computeNs = [200, 300, 300]; // node 2: 1650..1950, graph ends at 1900
    const { bytes, stats } = toPerfetto(packets);
    expect(stats.clampedSlices).toBe(1);
    const silu = checkPerfettoTrace(bytes).slices.find((s) => s.name === 'SILU+1');
    expect(Number(silu?.end)).toBe(1900);
  });
});

describe('toPerfetto counters', () => {
  it('adds per-node counter deltas as args, and QoS samples as session counter tracks', () => {
    const packets = decodeCall();
    packets.splice(1, 0, { counter: { counterId: 3, name: 'cycles', kind: 'hardware', live: true } });
    const batch = packets.find((p) => p.nodeEvents?.tid === 101)?.nodeEvents as v1.INodeEventBatch;
    batch.counters = [{ counterId: 3, delta: [1500, 2500] }];
    packets.push({ qos: { tsNs: 2050, tokensPerS: 12.5, level: 4 } });
    packets.push({ levelChange: { tsNs: 2060, fromLevel: 4, toLevel: 3, reason: 'qos: 2 tok/s < 5' } });
    const trace = checkPerfettoTrace(toPerfetto(packets).bytes);
    expect(trace.slices.filter((s) => s.tid === 101).map((s) => s.args['cycles'])).toEqual([1500, 2500]);
    expect(trace.slices.filter((s) => s.tid === 100 && s.args['cycles'] !== undefined)).toEqual([]);
    expect(trace.counters.filter((c) => !c.name.startsWith('lost') && !c.name.startsWith('cycles')).map((c) => [c.name, Number(c.ts), c.value])).toEqual([
      ['tokens/s (per llama_decode)', 1000, 1e6],
      ['QoS tokens/s (window)', 2050, 12.5],
      ['trace level', 2050, 4],
      ['trace level', 2060, 3],
    ]);
    const session = [...trace.tracks.values()].find((t) => t.name === 'ProfInfer session');
    expect([...trace.tracks.values()].filter((t) => t.counter && t.parent === session?.uuid).map((t) => t.name)).toEqual([
      'lost events (cumulative)',
      'QoS tokens/s (window)',
      'trace level',
    ]);
  });
});

describe('toPerfetto per-thread counter tracks', () => {
  it('draws each counter column as a rate per µs on a counter track under its thread, skipping unmeasured rows', () => {
    const packets = decodeCall();
    packets.splice(1, 0, { counter: { counterId: 3, name: 'cycles', kind: 'hardware', live: true } });
    const main = packets.find((p) => p.nodeEvents?.tid === 100)?.nodeEvents as v1.INodeEventBatch;
    // Row 0 not measured; rows 1, 2 cover the previous barrier wait too (one probe per node).
    main.counters = [{ counterId: 3, delta: [700, 900], unmeasuredRow: [0], includesPreviousBarrier: true }];
    const worker = packets.find((p) => p.nodeEvents?.tid === 101)?.nodeEvents as v1.INodeEventBatch;
    worker.counters = [{ counterId: 3, delta: [1500, 2500] }];
    const { bytes, stats } = toPerfetto(packets);
    expect(stats).toMatchObject({ counterSamples: 4, counterRowsUnmeasured: 1 });
    const trace = checkPerfettoTrace(bytes);
    const tracks = [...trace.tracks.values()];
    const samples = (tid: number): [number, number][] => {
      const thread = tracks.find((t) => t.tid === tid && !t.counter);
      const track = tracks.find((t) => t.counter && t.parent === thread?.uuid);
      expect(track?.name).toBe('cycles/µs');
      return trace.counters.filter((c) => c.track === track?.uuid).map((c) => [Number(c.ts), c.value]);
    };
    // main: node1 1350+300 after a 50 ns wait from 1300; node2 1650+100 after no wait.
    expect(samples(100)).toEqual([[1300, (700 * 1000) / 350], [1650, (900 * 1000) / 100]]);
    expect(samples(101)).toEqual([[1120, (1500 * 1000) / 150], [1350, (2500 * 1000) / 280]]);
    // Still the per-node deltas as args, none on the unmeasured row.
    expect(trace.slices.filter((s) => s.tid === 100 && s.depth === 2).map((s) => s.args['cycles'])).toEqual([undefined, 700, 900]);
  });
});

/** decodeCall() with MoE routings of its MUL_MAT_ID node (node 1) of graph 1, and one of a graph that never came. */
function moeCall(): v1.ITracePacket[] {
  const packets = decodeCall();
  // Node 1 is the MUL_MAT_ID the routings name.
  (packets[1]?.engine as v1.IEngineInfo).opNames = ['NONE', 'GET_ROWS', 'MUL_MAT_ID', 'UNARY'];
  const at = packets.findIndex((p) => p.graph);
  packets.splice(
    at,
    0,
    { expertRouting: { pid: 10, graphId: 1, nodeIndex: 1, layer: 3, nExpertUsed: 2, nTokens: 1, expertIds: [5, 2], tsNs: 1350 } },
    { expertRouting: { pid: 10, graphId: 1, nodeIndex: 1, layer: 12, nExpertUsed: 2, nTokens: 3, expertIds: [1, 2, 2, 7, 1, 7], tsNs: 1360 } },
    { expertRouting: { pid: 10, graphId: 1, nodeIndex: 1, layer: 4, nExpertUsed: 2, nTokens: 2, expertIds: [1, 2, 3], tsNs: 1370 } },
  );
  packets.push({ expertRouting: { pid: 10, graphId: 99, nodeIndex: 0, layer: 3, nExpertUsed: 2, nTokens: 1, expertIds: [0, 1], tsNs: 2300 } });
  return packets;
}

describe('toPerfetto MoE expert tracks', () => {
  it('draws one track per layer under the process, one slice per routing over its MUL_MAT_ID node', () => {
    const { bytes, stats } = toPerfetto(moeCall());
    expect(stats).toMatchObject({ expertRoutings: 4, orphanRoutings: 1, malformedRoutings: 1 });
    const trace = checkPerfettoTrace(bytes);
    const tracks = [...trace.tracks.values()];
    const process = tracks.find((t) => t.pid === 10 && t.tid === undefined && !t.counter && t.parent === undefined);
    const layers = tracks.filter((t) => t.name?.startsWith('MoE layer'));
    expect(layers.map((t) => t.name)).toEqual(['MoE layer 3', 'MoE layer 4', 'MoE layer 12']);
    expect(layers.every((t) => t.parent === process?.uuid && !t.counter)).toBe(true);

    const onLayer = (name: string): CheckedSlice[] =>
      trace.slices.filter((s) => s.track === layers.find((t) => t.name === name)?.uuid).sort(byStart);
    // MUL_MAT (node 1) runs 1350..1650 on tid 100 and 1350..1630 on tid 101: the slice ends at 1650.
    expect(onLayer('MoE layer 3').map((s) => [s.name, Number(s.start), Number(s.end), s.pid, s.depth])).toEqual([
      ['experts 5,2', 1350, 1650, 10, 0],
      ['experts 0,1', 2300, 2300, 10, 0], // its graph never came: drawn at its time
    ]);
    expect(onLayer('MoE layer 3')[0]?.args).toEqual({
      layer: 3, n_tokens: 1, n_expert_used: 2, graph_id: 1, node_index: 1, expert_ids: '5,2',
    });
    const [batch] = onLayer('MoE layer 12');
    expect(batch?.name).toBe('3 tokens');
    expect(batch?.args).toMatchObject({ expert_ids: '1,2;2,7;1,7', tokens_per_expert: '1:2,2:2,7:2' });
    const [bad] = onLayer('MoE layer 4');
    expect(bad?.name).toBe('experts (malformed)');
    expect(bad?.args).toMatchObject({ expert_ids: '1,2,3', malformed: true });
  });

  it('draws the same when routings follow their GraphEvent (the collector\'s order)', () => {
    const before = moeCall();
    const at = before.findIndex((p) => p.graph);
    const after = [...before.slice(0, at - 3), before[at] as v1.ITracePacket, ...before.slice(at - 3, at), ...before.slice(at + 1)];
    expect(after.findIndex((p) => p.graph)).toBeLessThan(after.findIndex((p) => p.expertRouting));
    const slices = (packets: v1.ITracePacket[]): string[] => {
      const trace = checkPerfettoTrace(toPerfetto(packets).bytes);
      return trace.slices.map((s) => `${trace.tracks.get(s.track)?.name} ${s.name} ${s.start} ${s.end}`).sort();
    };
    expect(slices(after)).toEqual(slices(before));
  });

  it('gives each layer a pseudo-thread in Chrome JSON', () => {
    const json = JSON.parse(toChromeJson(moeCall()).text) as { traceEvents: Record<string, unknown>[] };
    const names = json.traceEvents.filter((e) => e['name'] === 'thread_name').map((e) => (e['args'] as { name: string }).name);
    expect(names).toEqual(expect.arrayContaining(['MoE layer 3', 'MoE layer 4', 'MoE layer 12']));
    const layer3 = json.traceEvents.find((e) => e['name'] === 'thread_name' && (e['args'] as { name: string }).name === 'MoE layer 3');
    const slices = json.traceEvents.filter((e) => e['ph'] === 'X' && e['tid'] === layer3?.['tid']);
    expect(slices.map((e) => [e['name'], e['cat'], e['ts'], e['dur'], e['pid']])).toEqual([
      ['experts 5,2', 'expert', 1.35, 0.3, 10],
      ['experts 0,1', 'expert', 2.3, 0, 10],
    ]);
  });
});

describe('toPerfetto flows', () => {
  it('draws the DAG edges of the selected call between the caller thread\'s node slices', () => {
    const none = checkPerfettoTrace(toPerfetto(decodeCall()).bytes);
    expect(none.slices.every((s) => s.flowOut.length === 0 && s.flowIn.length === 0)).toBe(true);

    const trace = checkPerfettoTrace(toPerfetto(decodeCall(), { flowsForSeq: 1 }).bytes);
    const edges = new Map<string, string>();
    for (const s of trace.slices) for (const id of s.flowOut) edges.set(id, `${s.tid} ${s.name}`);
    const drawn = trace.slices.flatMap((s) => s.flowIn.map((id) => `${edges.get(id)} -> ${s.tid} ${s.name}`)).sort();
    // node1 uses node0's output; node2 uses node1's and node0's (inputs 900-902 are weights).
    // (Edges through views are followed: see the e2e test.)
    expect(drawn).toEqual(['100 GET_ROWS -> 100 MUL_MAT', '100 GET_ROWS -> 100 SILU+1', '100 MUL_MAT -> 100 SILU+1']);
    expect(trace.slices.filter((s) => s.flowOut.length > 0).length).toBe(2);

    const json = JSON.parse(toChromeJson(decodeCall(), { flowsForSeq: 1 }).text) as { traceEvents: { ph: string }[] };
    expect(json.traceEvents.filter((e) => e.ph === 's')).toHaveLength(3);
    expect(json.traceEvents.filter((e) => e.ph === 'f')).toHaveLength(3);
  });
});

describe('toPerfetto timestamps', () => {
  it('writes CLOCK_MONOTONIC times beyond 2^53 ns exactly', () => {
    const big = 2n ** 62n + 123_456_789n;
    const { bytes } = toPerfetto([
      { token: { pid: 1, tid: 1, startNs: protobuf.util.Long.fromString(big.toString(), true), durationNs: 1500, nTokens: 1, seq: 1 } },
    ]);
    const [token] = checkPerfettoTrace(bytes).slices;
    expect(token?.start).toBe(big);
    expect(token?.end).toBe(big + 1500n);
  });
});

describe('toChromeJson', () => {
  it('holds the same slices as the Perfetto export, in µs', () => {
    const packets = decodeCall();
    const json = JSON.parse(toChromeJson(packets).text) as { traceEvents: Record<string, unknown>[] };
    const x = json.traceEvents.filter((e) => e['ph'] === 'X');
    const perfetto = checkPerfettoTrace(toPerfetto(packets).bytes).slices;
    const key = (tid: unknown, name: unknown, ts: number, dur: number): string => `${tid} ${name} ${ts} ${dur}`;
    expect(x.map((e) => key(e['tid'], e['name'], Math.round(Number(e['ts']) * 1000), Math.round(Number(e['dur']) * 1000))).sort()).toEqual(
      perfetto.map((s) => key(s.tid, s.name, Number(s.start), Number(s.end - s.start))).sort(),
    );
    const mulMat = x.find((e) => e['name'] === 'MUL_MAT' && e['tid'] === 100);
    expect(mulMat).toMatchObject({ cat: 'node', ts: 1.35, dur: 0.3, pid: 10, args: { op: 'MUL_MAT', shape: '[128,4,1,1]' } });
    expect(json.traceEvents.filter((e) => e['ph'] === 'M').map((e) => (e['args'] as { name: string }).name)).toEqual([
      'llama-simple',
      'llama-simple',
      'thread 101',
    ]);
    expect(json.traceEvents.filter((e) => e['ph'] === 'C')).toHaveLength(3);
  });

  it('writes exact µs for CLOCK_MONOTONIC times beyond 2^53 ns', () => {
    const big = 2n ** 62n + 123_456_789n;
    const t = toChromeJson([
      { token: { pid: 1, tid: 1, startNs: protobuf.util.Long.fromString(big.toString(), true), durationNs: 1500, nTokens: 1, seq: 1 } },
    ]);
    expect(t.text).toContain(`"ts":4611686018550844.693,"dur":1.500`); // 2^62 + 123456789 ns
  });
});

/** The same call again, one second later, as graph 2. */
function shiftCall(p: v1.ITracePacket): v1.ITracePacket {
  const s = (v: unknown): number => Number(v) + 1e9;
  if (p.nodeEvents) return { nodeEvents: { ...p.nodeEvents, graphId: 2, startNs: s(p.nodeEvents.startNs) } };
  if (p.graph) return { graph: { ...p.graph, graphId: 2, startNs: s(p.graph.startNs) } };
  if (p.token) return { token: { ...p.token, seq: 2, startNs: s(p.token.startNs) } };
  return {};
}
