// dag.ts, stats.ts, roofline.ts, tensor_names.ts on a hand-built trace with known answers.
//
// The graph (structure 1), one layer:
//   inputs: w = blk.0.attn_q.weight (Q8_0, 64x32), x = inp_embd (F32, 64x1)
//   #0 MUL_MAT(w, x)       "Qcur-0"      32x1 F32
//   #1 RESHAPE(#0)         "Qcur-0 (reshaped)"  view of #0
//   #2 ADD(#1, #0)         "l_out-0"     32x1 F32
//   #3 RMS_NORM(#2)        "norm"        32x1 F32   (fused with #4)
//   #4 MUL(#3, #2)         "result_norm" 32x1 F32
//   #5 GET_ROWS(x, x)      "node_5"      unnamed, no source node: inherits from the node before it
import { describe, expect, test } from 'vitest';
import type { v1 } from '../proto.js';
import { buildDags, criticalPath, dagToDot, dagToJson } from './dag.js';
import { nodeCost, roofline } from './roofline.js';
import { attentionGrowth, computeStats } from './stats.js';
import { classifyTensor } from './tensor_names.js';
import { batch, engine, modelOf, op, strings } from './testing.js';

const NAMES = ['blk.0.attn_q.weight', 'inp_embd', 'Qcur-0', 'Qcur-0 (reshaped)', 'l_out-0', 'norm', 'result_norm', 'node_5'];
const iid = (s: string) => NAMES.indexOf(s) + 1;
const W = 1000;
const X = 1001;

function structure(): v1.ITracePacket {
  const node = (id: number, o: number, name: string, src: number[], ne = [32, 1, 1, 1], view = 0): v1.IGraphNode => ({
    tensorId: id, op: o, type: 0, ne, nameIid: iid(name), srcTensorIds: src, viewSrcId: view,
  });
  return {
    graphStructure: {
      structureId: 1,
      pid: 1,
      nodes: [
        node(1, op('MUL_MAT'), 'Qcur-0', [W, X]),
        node(2, op('RESHAPE'), 'Qcur-0 (reshaped)', [1], [32, 1, 1, 1], 1),
        node(3, op('ADD'), 'l_out-0', [2, 1]),
        node(4, op('RMS_NORM'), 'norm', [3]),
        node(5, op('MUL'), 'result_norm', [4, 3]),
        node(6, op('GET_ROWS'), 'node_5', [X, X], [64, 1, 1, 1]),
      ],
      inputs: [
        { tensorId: W, type: 8, ne: [64, 32, 1, 1], nameIid: iid('blk.0.attn_q.weight') },
        { tensorId: X, type: 0, ne: [64, 1, 1, 1], nameIid: iid('inp_embd') },
      ],
    },
  };
}

/** Two tokens: a 3-token prompt (graph 1) and one decode (graph 2); two threads. */
function trace() {
  const graph = (id: number, start: number, duration: number): v1.ITracePacket => ({
    graph: { pid: 1, tid: 10, graphId: id, startNs: start, durationNs: duration, structureId: 1, nThreads: 2, nNodes: 6 },
  });
  return modelOf([
    engine(),
    strings(NAMES),
    structure(),
    { token: { pid: 1, tid: 10, seq: 1, startNs: 1000, durationNs: 200, nTokens: 3, contextId: 5 } },
    graph(1, 1010, 150),
    // Thread 10: #0 at 1010 for 100 (+10 barrier), #2 at 1120 for 10, #3(+#4 fused) at 1130 for 20, #5 for 4.
    batch(1, 10, 1010, [
      { node: 0, compute: 100, barrier: 10 },
      { node: 2, compute: 10, barrier: 0 },
      { node: 3, compute: 20, barrier: 0, fused: 1 },
      { node: 5, compute: 4, barrier: 0 },
    ]),
    // Thread 11: #0 at 1012 for 90 (ends at 1102 < 1110): wall of #0 = 1110 - 1010 = 100.
    batch(1, 11, 1012, [{ node: 0, compute: 90, barrier: 18 }], 1),
    { token: { pid: 1, tid: 10, seq: 2, startNs: 2000, durationNs: 100, nTokens: 1, contextId: 5 } },
    graph(2, 2010, 50),
    batch(2, 10, 2010, [
      { node: 0, compute: 40, barrier: 0 },
      { node: 2, compute: 5, barrier: 0 },
      { node: 3, compute: 5, barrier: 0, fused: 1 },
      { node: 5, compute: 1, barrier: 0 },
    ]),
    { token: { pid: 1, tid: 10, seq: 3, startNs: 3000, durationNs: 300, nTokens: 1, contextId: 5 } },
  ]);
}

describe('classifyTensor', () => {
  test.each([
    ['Qcur-3', 3, 'attention'],
    ['Kcur-0 (view) (permuted)', 0, 'attention'],
    ['kqv_out-12', 12, 'attention'],
    ['cache_k_l7 (view)', 7, 'attention'],
    ['attn_norm-2', 2, 'norm'],
    ['norm-1', 1, 'norm'],
    ['ffn_norm-0', 0, 'norm'],
    ['ffn_inp-5', 5, 'residual'],
    ['l_out-5', 5, 'residual'],
    ['ffn_gate-1', 1, 'ffn'],
    ['ffn_swiglu-1', 1, 'ffn'],
    ['ffn_out-5', 5, 'ffn'],
    ['ffn_moe_gate_up-2', 2, 'moe'],
    ['ffn_moe_out-2', 2, 'moe'],
    ['result_norm', -1, 'norm'],
    ['result_output', -1, 'output'],
    ['inp_embd', -1, 'input'],
    ['embd', -1, 'input'],
    ['node_21', -1, 'other'],
  ])('%s is layer %i, %s', (name, layer, block) => {
    expect(classifyTensor(name)).toMatchObject({ layer, block });
  });
});

describe('buildDags', () => {
  const m = trace();
  const [dag] = buildDags(m);

  test('one DAG per structure, with its layers', () => {
    expect(buildDags(m)).toHaveLength(1);
    expect(dag?.graphs).toBe(2);
    expect(dag?.graphsWithNodes).toBe(2);
    expect(dag?.layers).toEqual([0]);
    expect(dag?.meanGraphNs).toBe(100);
  });

  test('edges: weights as inputs, views resolved to their producer', () => {
    const n = dag!.nodes;
    expect(n[0]?.sources).toEqual([{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }]);
    expect(n[1]?.view).toBe(true);
    expect(n[2]?.sources).toEqual([{ kind: 'node', index: 1 }, { kind: 'node', index: 0 }]);
    expect(n[2]?.producers).toEqual([{ kind: 'node', index: 0 }]);
    expect(dag!.inputs.map((i) => [i.name, i.typeName, i.weight])).toEqual([
      ['blk.0.attn_q.weight', 'Q8_0', true],
      ['inp_embd', 'F32', false],
    ]);
  });

  test('per node: wall = first start to last end across threads, summed over executions', () => {
    const n = dag!.nodes;
    // Graph 1: max(1010+100, 1012+90) - 1010 = 100. Graph 2: 40.
    expect(n[0]).toMatchObject({ executions: 2, wallNs: 140, computeNs: 230, barrierNs: 28 });
    expect(n[0]?.threads).toEqual([
      { tid: 10, computeNs: 140, barrierNs: 10 },
      { tid: 11, computeNs: 90, barrierNs: 18 },
    ]);
    expect(n[3]).toMatchObject({ fusedCount: 1, executions: 2, wallNs: 25 });
    expect(n[4]?.fusedInto).toBe(3);
    expect(n[4]?.executions).toBe(0);
  });

  test('layer and block from names; unnamed nodes inherit from the node before them', () => {
    expect(dag!.nodes.map((n) => `${n.layer}:${n.block}`)).toEqual([
      '0:attention', '0:attention', '0:residual', '-1:norm', '-1:norm', '-1:norm',
    ]);
  });

  test('critical path: the heaviest chain of producers', () => {
    // Means: #0 70, #2 7.5, #3 12.5 (with #4 fused into it), #5 2.5.
    expect(dag!.criticalPath.nodes).toEqual([0, 2, 3]);
    expect(dag!.criticalPath.ns).toBe(90);
    expect(criticalPath([])).toEqual({ nodes: [], ns: 0 });
  });

  test('JSON and DOT', () => {
    const j = dagToJson(dag!) as { nodes: { producers: unknown }[] };
    expect(j.nodes[2]?.producers).toEqual([{ node: 0 }]);
    const dot = dagToDot(dag!);
    expect(dot).toMatch(/^digraph "graph_1" \{/);
    expect(dot).toContain('subgraph cluster_layer_0');
    expect(dot).toContain('n0 -> n2 [color=red');
    expect(dot).not.toContain('n1 '); // the view is folded away
    expect(dot).toContain('i1 -> n0 [style=dotted]'); // inp_embd shown, the weight not
    expect(dot).not.toContain('i0 ->');
    expect(dagToDot(dag!, { weights: true })).toContain('i0 -> n0');
  });
});

describe('computeStats', () => {
  const m = trace();
  const s = computeStats(m, buildDags(m));

  test('tokens: prefill vs decode, TTFT, TPOT, stability', () => {
    expect(s.prefillTokens).toBe(3);
    expect(s.decodeTokens).toBe(2);
    expect(s.ttftMs).toBeCloseTo(200 / 1e6);
    expect(s.tpotMs).toBeCloseTo(200 / 1e6);
    expect(s.tokensPerS).toBeCloseTo(5e6);
    expect(s.decodeMs).toMatchObject({ count: 2, min: 100 / 1e6, max: 300 / 1e6 });
    expect(s.decodeMs?.cv).toBeCloseTo(0.5);
    expect(s.tokens.map((t) => [t.phase, t.past, t.graphs])).toEqual([
      ['prefill', 0, 1],
      ['decode', 3, 1],
      ['decode', 4, 0],
    ]);
    expect(s.tokens[0]?.nodeWallNs).toBe(100 + 10 + 20 + 4);
    expect(s.tokens[0]?.attentionNs).toBe(0); // Qcur-0 is a projection: no KV cache read
  });

  test('per op (fused kernels joined), per layer and block, per thread', () => {
    expect(s.ops.get('MUL_MAT')).toEqual({ count: 2, wallNs: 140, computeNs: 230, barrierNs: 28 });
    expect(s.ops.get('RMS_NORM+MUL')).toEqual({ count: 2, wallNs: 25, computeNs: 25, barrierNs: 0 });
    expect([...s.ops.keys()][0]).toBe('MUL_MAT');
    expect(s.opsByPhase.get('decode')?.get('MUL_MAT')?.wallNs).toBe(40);
    expect(s.layers.get(0)?.wallNs).toBe(140 + 15);
    expect(s.blocks.get('attention')?.wallNs).toBe(140);
    expect(s.layerBlocks.get('0:residual')?.count).toBe(2);
    expect(s.totalWallNs).toBe(140 + 15 + 25 + 5);
    expect(s.threads).toEqual([
      { tid: 10, ith: 0, rows: 8, computeNs: 185, barrierNs: 10, busy: 185 / 195 },
      { tid: 11, ith: 1, rows: 1, computeNs: 90, barrierNs: 18, busy: 90 / 108 },
    ]);
  });
});

describe('roofline', () => {
  const m = trace();
  const [dag] = buildDags(m);

  test('MUL_MAT cost: 2*K*M*N flops; Q8_0 weights at 34 bytes per 32 values', () => {
    // K=64, M=32, N=1: 4096 flops; 64*32*34/32 + 64*4 + 32*4 = 2176 + 256 + 128 bytes.
    expect(nodeCost(dag!, dag!.nodes[0]!)).toEqual({ flops: 4096, bytes: 2560 });
    expect(nodeCost(dag!, dag!.nodes[1]!)).toEqual({ flops: 0, bytes: 0 });
    // ADD of two 32-value F32 tensors into a third: 32 flops, 3 * 128 bytes.
    expect(nodeCost(dag!, dag!.nodes[2]!)).toEqual({ flops: 32, bytes: 384 });
  });

  test('verdicts against given peaks: ridge = GFLOP/s / GB/s', () => {
    const r = roofline([dag!], { gflops: 100, gbps: 10, source: 'user' });
    expect(r.ridge).toBe(10);
    const mm = r.ops.find((o) => o.key === 'MUL_MAT')!;
    expect(mm.flops).toBe(2 * 4096);
    expect(mm.intensity).toBeCloseTo(1.6);
    expect(mm.verdict).toBe('memory');
    expect(mm.gflops).toBeCloseTo(8192 / 140);
    expect(r.ops.find((o) => o.key === 'RMS_NORM+MUL')?.verdict).toBe('memory');
    const compute = roofline([dag!], { gflops: 1, gbps: 100, source: 'user' });
    expect(compute.ops.find((o) => o.key === 'MUL_MAT')?.verdict).toBe('compute');
  });
});

describe('counters', () => {
  test('per node: deltas summed over executions and threads, by counter name', () => {
    const m = modelOf([
      engine(),
      strings(NAMES),
      structure(),
      { counter: { counterId: 3, name: 'page-faults', kind: 'software', live: true } },
      { graph: { pid: 1, tid: 10, graphId: 1, startNs: 0, durationNs: 100, structureId: 1 } },
      { nodeEvents: { ...batch(1, 10, 0, [{ node: 0, compute: 5, barrier: 0 }, { node: 2, compute: 1, barrier: 0 }]).nodeEvents, counters: [{ counterId: 3, delta: [4, 1] }] } },
      { nodeEvents: { ...batch(1, 11, 0, [{ node: 0, compute: 5, barrier: 0 }], 1).nodeEvents, counters: [{ counterId: 3, delta: [6] }] } },
      { graph: { pid: 1, tid: 10, graphId: 2, startNs: 200, durationNs: 100, structureId: 1 } },
      batch(2, 10, 200, [{ node: 0, compute: 5, barrier: 0 }]), // no counter column: skipped
    ] as never);
    const [dag] = buildDags(m);
    expect(dag?.nodes[0]?.counters).toEqual({ 'page-faults': 10 });
    expect(dag?.nodes[2]?.counters).toEqual({ 'page-faults': 1 });
    expect(dag?.nodes[1]?.counters).toEqual({});
  });
});

describe('attentionGrowth', () => {
  test('least-squares slope of attention time over KV cache length', () => {
    const tok = (past: number, attentionNs: number) => ({
      seq: past, contextId: '0x1', phase: 'decode' as const, nTokens: 1, past, startNs: 0, durationNs: 0, graphs: 1,
      nodeWallNs: attentionNs, attentionNs,
    });
    expect(attentionGrowth([tok(10, 1000), tok(20, 2000), tok(30, 3000)])).toEqual({
      points: 3, firstPast: 10, lastPast: 30, interceptNs: 0, slopeNsPerToken: 100,
    });
    expect(attentionGrowth([tok(10, 1000)])).toBeUndefined();
  });
});

describe('graphs without structure', () => {
  test('their rows count under op "unknown", layer -1, block other', () => {
    const m = modelOf([
      engine(),
      { token: { pid: 1, tid: 10, seq: 1, startNs: 0, durationNs: 100, nTokens: 1, contextId: 1 } },
      { graph: { pid: 1, tid: 10, graphId: 1, startNs: 10, durationNs: 50, structureId: 0 } },
      batch(1, 10, 10, [{ node: 0, compute: 5, barrier: 1 }, { node: 3, compute: 7, barrier: 0 }]),
    ]);
    const dags = buildDags(m);
    expect(dags).toEqual([]);
    const s = computeStats(m, dags);
    expect(s.unstructuredRows).toBe(2);
    expect(s.ops.get('unknown')).toEqual({ count: 2, wallNs: 12, computeNs: 12, barrierNs: 1 });
    expect(s.layers.get(-1)?.count).toBe(2);
    expect(s.blocks.get('other')?.wallNs).toBe(12);
    expect(s.tokens[0]?.nodeWallNs).toBe(12);
  });
});
