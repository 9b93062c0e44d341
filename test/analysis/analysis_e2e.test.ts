// End to end on real recorded traces (fixtures/README.md): the DAG of a
// generated model has exactly the layers and the ops its llama architecture
// implies, and the analyses agree with the model's shapes and types.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { buildDags, type Dag, type DagNode } from '../../host/src/analysis/dag.js';
import { roofline, nodeCost } from '../../host/src/analysis/roofline.js';
import { computeStats, readsKvCache } from '../../host/src/analysis/stats.js';
import { traceModelFromPackets, type TraceModel } from '../../host/src/analysis/trace_model.js';
import { loadTraceModel } from '../../host/src/commands/analyze/analyze.js';
import { splitTrace } from '../../host/src/decode/stream_reader.js';
import { PRESETS } from '../../host/src/gguf/model_generator.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => join(here, 'fixtures', name);

function load(name: string): TraceModel {
  const { packets, error } = splitTrace(readFileSync(fixture(name)));
  expect(error).toBeUndefined();
  return traceModelFromPackets(packets);
}

/** Computing ops of one layer, as "OP" -> count. */
function layerOps(dag: Dag, layer: number): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of dag.nodes) if (n.layer === layer && !n.view) ops[n.op] = (ops[n.op] ?? 0) + 1;
  return ops;
}

/** What one llama layer computes with flash attention (src/models/llama.cpp). */
const ATTENTION = { RMS_NORM: 1, MUL: 1, MUL_MAT: 4, ROPE: 2, SET_ROWS: 2, FLASH_ATTN_EXT: 1, ADD: 1 };
const DENSE_LAYER = { ...ATTENTION, RMS_NORM: 2, MUL: 2, MUL_MAT: 7, ADD: 2, SWIGLU: 1 };
// build_moe_ffn: router logits (MUL_MAT), softmax, top-k (ARGSORT + GET_ROWS of the
// weights), weight normalisation (SUM_ROWS, CLAMP, DIV), gate/up/down (MUL_MAT_ID),
// SWIGLU, weighting (MUL) and the sum of the n_expert_used experts (ADD, one for 2).
const MOE_LAYER = {
  ...ATTENTION, RMS_NORM: 2, MUL: 3, MUL_MAT: 5, ADD: 3, SOFT_MAX: 1, ARGSORT: 1, GET_ROWS: 1, SUM_ROWS: 1,
  CLAMP: 1, DIV: 1, MUL_MAT_ID: 3, SWIGLU: 1,
};
// The last layer keeps only the rows that need logits (inp_out_ids): two GET_ROWS.
const withOutIds = (ops: Record<string, number>) => ({ ...ops, GET_ROWS: (ops['GET_ROWS'] ?? 0) + 2 });
const OUTSIDE = { GET_ROWS: 1, RMS_NORM: 1, MUL: 1, MUL_MAT: 1 };

describe.each([
  ['tiny-q8_0.pftrace', PRESETS.tiny, DENSE_LAYER, 'Q8_0'],
  ['tiny-f16.pftrace', PRESETS.tiny, DENSE_LAYER, 'F16'],
  ['moe-q8_0.pftrace', PRESETS.moe, MOE_LAYER, 'Q8_0'],
] as const)('%s', (file, preset, layerOps_, weightType) => {
  const model = load(file);
  const dags = buildDags(model);

  test('two distinct graphs (prompt, decode), every compute covered by node rows', () => {
    expect(dags).toHaveLength(2);
    expect(dags.map((d) => d.graphs)).toEqual([1, 7]);
    for (const d of dags) expect(d.graphsWithNodes).toBe(d.graphs);
  });

  test(`exactly ${preset.nLayer} layers, each with the ops the architecture implies`, () => {
    for (const dag of dags) {
      expect(dag.layers).toEqual([...Array(preset.nLayer).keys()]);
      for (let l = 0; l < preset.nLayer - 1; l++) expect(layerOps(dag, l), `layer ${l}`).toEqual(layerOps_);
      expect(layerOps(dag, preset.nLayer - 1)).toEqual(withOutIds(layerOps_));
      expect(layerOps(dag, -1)).toEqual(OUTSIDE);
    }
  });

  test('weights are inputs of the right shapes and type; views resolve to computing producers', () => {
    const dag = dags[1] as Dag;
    const q0 = dag.nodes.find((n) => n.name === 'Qcur-0' && n.op === 'MUL_MAT') as DagNode;
    const w = q0.producers.find((p) => p.kind === 'input');
    expect(w && dag.inputs[w.index]).toMatchObject({
      name: 'blk.0.attn_q.weight', typeName: weightType, ne: [preset.nEmbd, preset.nEmbd, 1, 1], weight: true,
    });
    for (const n of dag.nodes) {
      if (n.view) continue;
      for (const p of n.producers) if (p.kind === 'node') expect(dag.nodes[p.index]?.view, `${n.index} <- ${p.index}`).toBe(false);
    }
    // Every computing node ran in every decode graph (or was fused into one that did).
    for (const n of dag.nodes) if (!n.view) expect(n.executions + (n.fusedInto !== undefined ? dag.graphs : 0)).toBe(dag.graphs);
    // Flash attention reads the KV cache its layer's SET_ROWS wrote just before.
    for (const fa of dag.nodes.filter((n) => n.op === 'FLASH_ATTN_EXT')) {
      const writers = fa.producers.filter((p) => p.kind === 'node' && dag.nodes[p.index]?.op === 'SET_ROWS');
      expect(writers.map((p) => dag.nodes[p.index]?.name).sort()).toEqual([
        `cache_k_l${fa.layer} (view)`,
        `cache_v_l${fa.layer} (view)`,
      ]);
    }
    expect(dag.criticalPath.nodes.length).toBeGreaterThan(preset.nLayer * 5);
    const mean = dag.nodes.reduce((s, n) => s + (n.executions ? n.wallNs / n.executions : 0), 0);
    expect(dag.criticalPath.ns).toBeLessThanOrEqual(mean + 1e-6);
  });

  test('stats: prompt and decode tokens, time accounted per layer, block and thread', () => {
    const s = computeStats(model, dags);
    expect(s.prefillTokens).toBe(5);
    expect(s.decodeTokens).toBe(7);
    expect(s.tokens.map((t) => t.graphs)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(s.tokens.map((t) => t.past)).toEqual([0, 5, 6, 7, 8, 9, 10, 11]);
    expect(s.unstructuredRows).toBe(0);
    const sum = <K>(m: ReadonlyMap<K, { wallNs: number }>) => [...m.values()].reduce((a, t) => a + t.wallNs, 0);
    expect(sum(s.layers)).toBeCloseTo(s.totalWallNs, 0);
    expect(sum(s.blocks)).toBeCloseTo(s.totalWallNs, 0);
    expect(sum(s.ops)).toBeCloseTo(s.totalWallNs, 0);
    expect(s.blocks.get('other')).toBeUndefined();
    expect(s.threads).toHaveLength(model.threads.length);
    expect(s.threads.reduce((a, t) => a + t.rows, 0)).toBe(model.nodes.length);
    if ('nExpert' in preset) {
      expect(s.ops.get('MUL_MAT_ID')?.count).toBe(3 * preset.nLayer * 8);
      expect(s.blocks.get('moe')?.wallNs).toBeGreaterThan(0);
    } else {
      expect(s.ops.get('MUL_MAT_ID')).toBeUndefined();
      expect(s.blocks.get('ffn')?.wallNs).toBeGreaterThan(0);
    }
  });

  test('roofline: weights counted at their quantised size', () => {
    const dag = dags[1] as Dag;
    const q0 = dag.nodes.find((n) => n.name === 'Qcur-0' && n.op === 'MUL_MAT') as DagNode;
    const k = preset.nEmbd;
    const perValue = weightType === 'Q8_0' ? 34 / 32 : 2;
    // Decode: one token. Weights k x k, input k floats, output k floats.
    expect(nodeCost(dag, q0)).toEqual({ flops: 2 * k * k, bytes: k * k * perValue + 4 * k + 4 * k });
    const r = roofline(dags, { gflops: 1000, gbps: 10, source: 'user' });
    expect(r.ops.find((o) => o.key === 'MUL_MAT')?.verdict).toBe('memory');
  });
});

describe('loadTraceModel', () => {
  test('streams a file to the same model as the in-memory path', async () => {
    const { model, warning } = await loadTraceModel(fixture('tiny-q8_0.pftrace'));
    expect(warning).toBeUndefined();
    const again = load('tiny-q8_0.pftrace');
    expect(model.nodes.length).toBe(again.nodes.length);
    expect([...model.nodes.start]).toEqual([...again.nodes.start]);
    expect(model.truncated).toBe(false);
  });
});

describe('a cut trace', () => {
  test('is analysed up to its last whole packet, with a warning', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'cut-'));
    try {
      const bytes = readFileSync(fixture('tiny-q8_0.pftrace'));
      const cut = join(dir, 'cut.pftrace');
      writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      const { model, warning } = await loadTraceModel(cut);
      expect(warning).toMatch(/trace is cut at byte \d+: .*; analysing the \d+ whole packets before it/);
      expect(model.truncated).toBe(true);
      expect(model.nodes.length).toBeGreaterThan(0);
      expect(model.nodes.length).toBeLessThan(load('tiny-q8_0.pftrace').nodes.length);
      expect(computeStats(model, buildDags(model)).nodeRows).toBe(model.nodes.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('KV-cache attention', () => {
  test('is FLASH_ATTN_EXT, once per layer, and is measured per decode call', () => {
    const model = load('tiny-q8_0.pftrace');
    const dags = buildDags(model);
    const kv = (dags[1] as Dag).nodes.filter((n) => readsKvCache(dags[1] as Dag, n));
    expect(kv.map((n) => `${n.layer}:${n.op}`)).toEqual(['0:FLASH_ATTN_EXT', '1:FLASH_ATTN_EXT', '2:FLASH_ATTN_EXT', '3:FLASH_ATTN_EXT']);
    const s = computeStats(model, dags);
    expect(s.attentionGrowth).toMatchObject({ points: 7, firstPast: 5, lastPast: 11 });
    for (const t of s.tokens) expect(t.attentionNs).toBeGreaterThan(0);
  });
});
