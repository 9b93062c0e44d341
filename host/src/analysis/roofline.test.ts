// roofline.ts: the micro-benchmark returns usable figures and says what it
// measured; counters decide verdicts where they read clearly.
import { describe, expect, test } from 'vitest';
import type { v1 } from '../proto.js';
import { buildDags } from './dag.js';
import { measurePeaks, roofline, rooflineToJson } from './roofline.js';
import { batch, engine, modelOf, op, strings } from './testing.js';

describe('measurePeaks', () => {
  test('positive, finite peaks, labelled as a micro-benchmark', () => {
    const t0 = performance.now();
    const p = measurePeaks(2);
    const ms = performance.now() - t0;
    expect(p.gflops).toBeGreaterThan(0);
    expect(p.gbps).toBeGreaterThan(0);
    expect(Number.isFinite(p.gflops) && Number.isFinite(p.gbps)).toBe(true);
    expect(p.source).toMatch(/micro-benchmark .*x 2 CPUs/);
    expect(ms).toBeLessThan(5000);
  });
});

// Counters in the verdicts: a hand-built trace whose MUL_MAT (intensity from
// shapes: 2*64*64*64 flops over 3*64*64*4 bytes = 10.7 flop/B) and ADD
// (0.08 flop/B) carry cycles / stall / instruction counts chosen to agree or
// disagree with the shapes.
describe('roofline with counters', () => {
  const descriptors = (names: string[]): v1.ITracePacket[] =>
    names.map((name, i) => ({ counter: { counterId: i + 1, name, kind: 'hardware', live: true } }));
  const structure: v1.ITracePacket = {
    graphStructure: {
      structureId: 1,
      pid: 1,
      nodes: [
        { tensorId: 1, op: op('MUL_MAT'), type: 0, ne: [64, 64, 1, 1], nameIid: 1, srcTensorIds: [10, 11] },
        { tensorId: 2, op: op('ADD'), type: 0, ne: [64, 64, 1, 1], nameIid: 2, srcTensorIds: [1, 11] },
      ],
      inputs: [
        { tensorId: 10, type: 0, ne: [64, 64, 1, 1] },
        { tensorId: 11, type: 0, ne: [64, 64, 1, 1] },
      ],
    },
  };
  function trace(names: string[], columns: number[][]) {
    const p = batch(1, 10, 100, [
      { node: 0, compute: 50_000, barrier: 5 },
      { node: 1, compute: 20_000, barrier: 0 },
    ]);
    (p.nodeEvents as v1.INodeEventBatch).counters = columns.map((delta, i) => ({ counterId: i + 1, delta }));
    return modelOf([
      engine(),
      strings(['mm-0', 'add-0']),
      ...descriptors(names),
      structure,
      { graph: { pid: 1, tid: 10, graphId: 1, startNs: 100, durationNs: 100_000, structureId: 1, nThreads: 1, nNodes: 2 } },
      p,
    ]);
  }
  const peaks = { gflops: 100, gbps: 20, source: 'user' }; // ridge 5 flop/B

  test('shapes alone decide without counters, and say so', () => {
    const r = roofline(buildDags(trace([], [])), peaks);
    expect(r.ops.map((o) => [o.key, o.verdict, o.evidence])).toEqual([
      ['MUL_MAT', 'compute', 'shapes'],
      ['ADD', 'memory', 'shapes'],
    ]);
    expect(r.evidence).toBe('tensor shapes and types (FLOPs and bytes estimated); no hardware counters recorded');
  });

  test('backend stalls decide first; the row says which counter and what the shapes said', () => {
    // MUL_MAT: 60% of cycles stalled (memory, shapes said compute); ADD: 10% (compute, shapes said memory).
    const r = roofline(buildDags(trace(['cycles', 'stalled-cycles-backend'], [[1000, 1000], [600, 100]])), peaks);
    expect(r.ops.map((o) => [o.key, o.verdict, o.evidence])).toEqual([
      ['MUL_MAT', 'memory', 'counters: stalled-cycles-backend 60% of cycles (shapes said compute)'],
      ['ADD', 'compute', 'counters: stalled-cycles-backend 10% of cycles (shapes said memory)'],
    ]);
    expect(r.nodes.find((n) => n.name === 'mm-0')?.evidence).toBe('counters: stalled-cycles-backend 60% of cycles (shapes said compute)');
    expect(r.evidence).toMatch(/counters cycles, stalled-cycles-backend where they read clearly \(4 of 4 rows/);
    expect(rooflineToJson(r)['ops']).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'ADD', evidence: expect.stringMatching(/^counters:/) })]));
  });

  test('cache misses per 1000 instructions, then IPC; unclear readings leave the shapes in charge', () => {
    // MUL_MAT: 20 misses per 1000 instructions -> memory. ADD: 5 MPKI (unclear), IPC 1 (unclear) -> shapes.
    const r = roofline(buildDags(trace(['instructions', 'cache-misses', 'cycles'], [[1000, 1000], [20, 5], [1000, 1000]])), peaks);
    expect(r.ops.map((o) => [o.key, o.verdict, o.evidence])).toEqual([
      ['MUL_MAT', 'memory', 'counters: cache-misses 20.0 per 1000 instructions (shapes said compute)'],
      ['ADD', 'memory', 'shapes'],
    ]);
    // IPC alone: 3 instructions per cycle -> compute; ADD at 1 is unclear -> shapes.
    const ipc = roofline(buildDags(trace(['instructions', 'cycles'], [[3000, 1000], [1000, 1000]])), peaks);
    expect(ipc.ops.map((o) => [o.key, o.verdict, o.evidence])).toEqual([
      ['MUL_MAT', 'compute', 'counters: instructions / cycles = 3.00'],
      ['ADD', 'memory', 'shapes'],
    ]);
  });

  test('software counters say nothing about boundness: shapes decide, and the evidence says why', () => {
    const r = roofline(buildDags(trace(['task-clock', 'page-faults'], [[50_000, 20_000], [0, 1]])), peaks);
    expect(r.ops.every((o) => o.evidence === 'shapes')).toBe(true);
    expect(r.evidence).toMatch(/the counters recorded \(page-faults, task-clock\) do not tell memory from compute/);
  });
});
