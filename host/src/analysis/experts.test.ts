import { describe, expect, it } from 'vitest';
import type { v1 } from '../proto.js';
import { ExpertAccumulator, balance, expertReport, expertReportToJson, expertTables, expertsPerLayer } from './experts.js';
import { engine, modelOf, op, strings } from './testing.js';

// Plain numbers for the 64-bit fields: protobufjs encodes them as it does Longs.
const routing = (graphId: number, nodeIndex: number, layer: number, rows: number[][], pid = 1): v1.ITracePacket => ({
  expertRouting: {
    pid,
    graphId: graphId as unknown as Long,
    nodeIndex,
    layer,
    nExpertUsed: rows[0]?.length ?? 0,
    nTokens: rows.length,
    expertIds: rows.flat(),
  },
});
type Long = NonNullable<v1.IExpertRouting['graphId']>;

/** One graph of structure 7: nodes 0..2 are layer 0's gate/up/down, weights tensor 100 has 8 experts. */
function moeTrace(): v1.ITracePacket[] {
  const node = (name: number): v1.IGraphNode => ({ op: op('MUL_MAT_ID'), nameIid: name, srcTensorIds: [100 as unknown as Long, 0 as unknown as Long, 0 as unknown as Long] });
  return [
    engine(),
    strings(['ffn_moe_gate-0', 'ffn_moe_up-0', 'ffn_moe_down-0']),
    {
      graphStructure: {
        structureId: 7 as unknown as Long,
        pid: 1,
        nodes: [node(1), node(2), node(3)],
        inputs: [{ tensorId: 100 as unknown as Long, ne: [256 as unknown as Long, 256 as unknown as Long, 8 as unknown as Long] }],
      },
    },
    { graph: { pid: 1, tid: 1, graphId: 1 as unknown as Long, startNs: 1000 as unknown as Long, durationNs: 10 as unknown as Long, structureId: 7 as unknown as Long } },
    { graph: { pid: 1, tid: 1, graphId: 2 as unknown as Long, startNs: 2000 as unknown as Long, durationNs: 10 as unknown as Long, structureId: 7 as unknown as Long } },
    // prompt of 3 tokens, then one decode step; all three nodes of the layer read the same ids
    ...[0, 1, 2].map((i) => routing(1, i, 0, [[1, 2], [2, 1], [1, 3]])),
    ...[0, 1, 2].map((i) => routing(2, i, 0, [[5, 1]])),
  ];
}

describe('balance', () => {
  it('is 1 and 0 for an even load, and grows with imbalance', () => {
    expect(balance([2, 2, 2, 2])).toEqual({ maxOverMean: 1, cv: 0, unused: 0 });
    const b = balance([6, 2, 0, 0]); // mean 2, sd sqrt((16+0+4+4)/4) = sqrt(6)
    expect(b.maxOverMean).toBe(3);
    expect(b.cv).toBeCloseTo(Math.sqrt(6) / 2, 12);
    expect(b.unused).toBe(2);
  });

  it('is NaN, not 0, when nothing was chosen', () => {
    const b = balance([0, 0]);
    expect(b.maxOverMean).toBeNaN();
    expect(b.cv).toBeNaN();
  });
});

describe('ExpertAccumulator', () => {
  it('counts one decision per graph and layer, and the experts of every token', () => {
    const model = modelOf(moeTrace());
    const r = expertReport(model, { table: true });
    expect(r.routings).toBe(6);
    expect(r.decisions).toBe(2);
    expect(r.inconsistent).toBe(0);
    expect(r.nExpertUsed).toBe(2);
    expect(r.layers).toHaveLength(1);
    const l = r.layers[0];
    expect(l?.nExpert).toBe(8); // from the weights' ne[2], although ids stop at 5
    expect(l?.nExpertFromWeights).toBe(true);
    expect(l?.tokens).toBe(4);
    expect(l?.counts).toEqual([0, 4, 2, 1, 0, 1, 0, 0]);
    const mean = 8 / 8;
    expect(l?.maxOverMean).toBe(4 / mean);
    expect(l?.unused).toBe(4);
    expect(r.table.map((t) => [t.graphId, t.token, t.layer, t.experts])).toEqual([
      ['1', 0, 0, [1, 2]],
      ['1', 1, 0, [2, 1]],
      ['1', 2, 0, [1, 3]],
      ['2', 0, 0, [5, 1]],
    ]);
  });

  it('keeps the lowest node of a layer and counts nodes that disagree with it', () => {
    const acc = new ExpertAccumulator();
    acc.add(routing(1, 5, 3, [[0, 1]]).expertRouting as v1.IExpertRouting);
    acc.add(routing(1, 2, 3, [[2, 3]]).expertRouting as v1.IExpertRouting);
    const r = acc.build();
    expect(r.inconsistent).toBe(1);
    expect(r.layers[0]?.counts).toEqual([0, 0, 1, 1]); // node 2's ids; no weights known: highest id + 1
    expect(r.layers[0]?.nExpertFromWeights).toBe(false);
  });

  it('skips packets whose ids do not fill n_tokens rows', () => {
    const acc = new ExpertAccumulator();
    acc.add({ pid: 1, graphId: 1 as unknown as Long, layer: 0, nExpertUsed: 2, nTokens: 2, expertIds: [1, 2, 3] });
    const r = acc.build();
    expect(r.malformed).toBe(1);
    expect(r.decisions).toBe(0);
    expect(r.layers).toEqual([]);
  });

  it('keeps processes and graphs apart', () => {
    const acc = new ExpertAccumulator();
    acc.add(routing(1, 0, 0, [[0, 1]], 1).expertRouting as v1.IExpertRouting);
    acc.add(routing(1, 0, 0, [[0, 1]], 2).expertRouting as v1.IExpertRouting);
    expect(acc.build().decisions).toBe(2);
  });
});

describe('expert reuse distance', () => {
  it('counts tokens between activations of the same expert per layer and process, across graphs', () => {
    const acc = new ExpertAccumulator();
    // pid 1, layer 0: tokens 0..3 over two graphs (prompt of 2, then 2 decode steps).
    //   t0 0,1  t1 2,3  t2 0,2  t3 1,0  -> distances: 0: 2 then 1; 2: 1; 1: 3  => [1, 1, 2, 3], 4 cold
    // Graph order, not arrival order, numbers the tokens (graph 3 comes in before graph 2 here); pid 2 starts afresh.
    for (const r of [routing(1, 0, 0, [[0, 1], [2, 3]]), routing(3, 0, 0, [[1, 0]]), routing(2, 0, 0, [[0, 2]])]) acc.add(r.expertRouting as v1.IExpertRouting);
    acc.add(routing(1, 0, 0, [[0, 1]], 2).expertRouting as v1.IExpertRouting);
    acc.add(routing(2, 0, 0, [[0, 5]], 2).expertRouting as v1.IExpertRouting);
    // pid 2: 0 at t0, t1 (distance 1); 1 and 5 cold  => overall distances [1, 1, 1, 2, 3], 7 cold
    const [layer] = acc.build().layers;
    expect(layer?.reuse).toEqual({ reuses: 5, cold: 7, mean: 8 / 5, median: 1, p90: 3, nextToken: 3 / 5 });
    const j = expertReportToJson(acc.build()) as { layers: { reuse_distance: Record<string, number> }[] };
    expect(j.layers[0]?.reuse_distance).toMatchObject({ reuses: 5, cold: 7, median: 1, p90: 3 });
    expect(JSON.stringify(expertReportToJson(new ExpertAccumulator().build()))).not.toContain('NaN');
  });
});

describe('expertsPerLayer / output', () => {
  it('reads n_expert from the MUL_MAT_ID weights of the recorded structure', () => {
    expect(expertsPerLayer(modelOf(moeTrace()))).toEqual(new Map([[0, 8]]));
  });

  it('writes JSON without NaN and a text section with the per-token table', () => {
    const r = expertReport(modelOf(moeTrace()), { table: true });
    const j = expertReportToJson(r) as { layers: { counts: number[]; max_over_mean: number }[]; tokens: unknown[] };
    expect(j.layers[0]?.counts).toEqual([0, 4, 2, 1, 0, 1, 0, 0]);
    expect(j.tokens).toHaveLength(4);
    expect(JSON.stringify(expertReportToJson(new ExpertAccumulator().build()))).not.toContain('NaN');
    const text = expertTables(r, 10).join('\n');
    expect(text).toContain('experts (MoE routing: 6 MUL_MAT_ID nodes, 2 layer decisions, 2 experts per token)');
    // Reuse: expert 1 at tokens 0, 1, 2, 3 and expert 2 at 0, 1: every distance is 1.
    expect(text).toMatch(/^\s+0\s+4\s+8\s+4\.00\s+1\.32\s+4\s+1\.00\s+1\.00\s+100%\s+0 4 2 1 0 1 0 0$/m);
    expect(text).toMatch(/^\s+2:0\s+5,1\s*$/m);
    expect(expertTables(new ExpertAccumulator().build(), 10)).toEqual([]);
  });
});
