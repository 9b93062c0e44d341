// trace_model.ts: node rows from the hand-written column decoder equal the
// protobufjs path, times chain, malformed batches fail with a precise error.
import { describe, expect, test } from 'vitest';
import { TracePacket } from '../proto.js';
import { splitTrace } from '../decode/stream_reader.js';
import { batch, engine, modelOf, traceBytes } from './testing.js';
import { BYTES_PER_NODE_ROW, TraceModelBuilder, TraceModelError } from './trace_model.js';

describe('TraceModelBuilder', () => {
  test('decodes node rows, chaining start = previous start + compute + barrier', () => {
    const m = modelOf([
      engine(),
      { graph: { pid: 1, tid: 10, graphId: 7, startNs: 1000, durationNs: 500, nNodes: 5, structureId: 3, nThreads: 2 } },
      batch(7, 10, 1000, [
        { node: 0, compute: 10, barrier: 5 },
        { node: 2, compute: 300, barrier: 1, fused: 1 },
        { node: 4, compute: 20, barrier: 0 },
      ]),
      batch(7, 11, 1002, [{ node: 0, compute: 12, barrier: 1 }], 1),
    ]);
    expect(m.nodes.length).toBe(4);
    expect([...m.nodes.node]).toEqual([0, 2, 4, 0]);
    expect([...m.nodes.start]).toEqual([0, 15, 316, 2]);
    expect([...m.nodes.compute]).toEqual([10, 300, 20, 12]);
    expect([...m.nodes.barrier]).toEqual([5, 1, 0, 1]);
    expect([...m.nodes.fused]).toEqual([0, 1, 0, 0]);
    expect([...m.nodes.thread]).toEqual([0, 0, 0, 1]);
    expect(m.threads.map((t) => [t.tid, t.ith])).toEqual([[10, 0], [11, 1]]);
    expect(m.graphs).toHaveLength(1);
    expect(m.graphs[0]).toMatchObject({ id: 7, structureId: '3', duration: 500, nThreads: 2, seen: true, start: 0 });
    expect(m.baseNs).toBe(1000n);
  });

  test('node batches before their GraphEvent land on the same graph row', () => {
    const m = modelOf([
      batch(2, 10, 5000, [{ node: 1, compute: 1, barrier: 1 }]),
      { graph: { pid: 1, tid: 10, graphId: 2, startNs: 4990, durationNs: 50, structureId: 1 } },
    ]);
    expect(m.graphs).toHaveLength(1);
    expect(m.graphs[0]?.start).toBe(-10);
    expect([...m.nodes.graph]).toEqual([0]);
  });

  test('multi-byte varints (2^7, 2^14, 2^28, 2^35, 2^52) decode exactly', () => {
    const values = [127, 128, 16_383, 16_384, 2 ** 28 - 1, 2 ** 28, 2 ** 35 + 3, 2 ** 52 + 1];
    const rows = values.map((v, i) => ({ node: i * 300, compute: v, barrier: v + 1 }));
    const m = modelOf([batch(1, 1, 2 ** 40, rows)]);
    expect([...m.nodes.compute]).toEqual(values);
    expect([...m.nodes.barrier]).toEqual(values.map((v) => v + 1));
    expect([...m.nodes.node]).toEqual(values.map((_, i) => i * 300));
  });

  test('equals the protobufjs decode of the same packets', () => {
    const packets = [
      batch(1, 10, 1_000_000, Array.from({ length: 500 }, (_, i) => ({ node: i * 2, compute: (i * 7919) % 100_000, barrier: i, fused: i % 3 }))),
      batch(1, 11, 1_000_050, [{ node: 3, compute: 2 ** 33, barrier: 0 }], 1),
    ];
    const { packets: raw } = splitTrace(traceBytes(packets));
    const fast = new TraceModelBuilder();
    const slow = new TraceModelBuilder();
    for (const r of raw) {
      fast.add(r);
      slow.addPacket(TracePacket.decode(r.bytes));
    }
    const a = fast.build().nodes;
    const b = slow.build().nodes;
    for (const col of ['graph', 'thread', 'node', 'fused', 'start', 'compute', 'barrier'] as const) {
      expect([...a[col]], col).toEqual([...b[col]]);
    }
  });

  test('a batch whose columns differ in length is refused, naming the columns', () => {
    const p = TracePacket.encode({ nodeEvents: { graphId: 1, nodeIndexDelta: [0, 1], computeNs: [5], barrierNs: [1, 2] } }).finish();
    const b = new TraceModelBuilder();
    expect(() => b.addBytes(p, 4, 99)).toThrow(TraceModelError);
    expect(() => b.addBytes(p, 4, 99)).toThrow(/packet 4 at byte 99 .*node_index_delta 2, compute_ns 1, barrier_ns 2/);
  });

  test('unknown length-delimited fields are skipped', () => {
    // node_events { graph_id: 1, <field 15, 3 bytes>, node_index_delta: [0], compute_ns: [9], barrier_ns: [1] }
    // 0a 10 18 01 7a 03 aa bb cc 2a 01 00 32 01 09 3a 01 01
    const b = new TraceModelBuilder();
    b.addBytes(Uint8Array.from([0x0a, 0x10, 0x18, 0x01, 0x7a, 0x03, 0xaa, 0xbb, 0xcc, 0x2a, 0x01, 0x00, 0x32, 0x01, 0x09, 0x3a, 0x01, 0x01]));
    const m = b.build();
    expect([...m.nodes.compute]).toEqual([9]);
    expect([...m.nodes.barrier]).toEqual([1]);
  });

  test('a packed column cut inside a varint is refused', () => {
    // node_events { compute_ns: [packed, 2 bytes: 0x80 0x80] } : the varint never ends.
    // 0a 04 32 02 80 80
    const b = new TraceModelBuilder();
    expect(() => b.addBytes(Uint8Array.from([0x0a, 0x04, 0x32, 0x02, 0x80, 0x80]))).toThrow(TraceModelError);
  });

  test('counter columns align with node rows, NaN where a batch has none, on both decode paths', () => {
    const withCounters = (p: ReturnType<typeof batch>, columns: { counterId: number; delta: number[] }[]) => ({
      nodeEvents: { ...p.nodeEvents, counters: columns } as unknown as typeof p.nodeEvents,
    });
    const packets = [
      { counter: { counterId: 2, name: 'page-faults', kind: 'software', live: true } },
      batch(1, 10, 0, [{ node: 0, compute: 1, barrier: 0 }, { node: 1, compute: 1, barrier: 0 }]),
      withCounters(batch(1, 11, 0, [{ node: 0, compute: 1, barrier: 0 }, { node: 1, compute: 1, barrier: 0 }], 1), [
        { counterId: 2, delta: [7, 2 ** 33] },
        { counterId: 5, delta: [1, 0] },
      ]),
      batch(2, 10, 10, [{ node: 0, compute: 1, barrier: 0 }]),
    ];
    const { packets: raw } = splitTrace(traceBytes(packets));
    for (const decoded of [false, true]) {
      const b = new TraceModelBuilder();
      for (const r of raw) (decoded ? b.addPacket(TracePacket.decode(r.bytes)) : b.add(r));
      const m = b.build();
      expect([...(m.counterColumns.get(2) ?? [])]).toEqual([NaN, NaN, 7, 2 ** 33, NaN]);
      expect([...(m.counterColumns.get(5) ?? [])]).toEqual([NaN, NaN, 1, 0, NaN]);
      expect(m.counters.map((c) => c.name)).toEqual(['page-faults']);
    }
    const bad = TracePacket.encode({
      nodeEvents: { graphId: 1, nodeIndexDelta: [0, 1], computeNs: [1, 1], barrierNs: [0, 0], counters: [{ counterId: 2, delta: [1] }] },
    } as never).finish();
    expect(() => new TraceModelBuilder().addBytes(bad)).toThrow(/counter 2 has 1 deltas for 2 rows/);
  });

  test('columns hold at most 64 bytes per node row', () => {
    expect(BYTES_PER_NODE_ROW).toBe(36);
    // 1.5x growth: capacity stays under 1.5x + 1024 rows.
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ node: i, compute: 1, barrier: 1 }));
    const m = modelOf([batch(1, 1, 0, rows)]);
    const held = m.nodes.start.buffer.byteLength / 8;
    expect(held / m.nodes.length).toBeLessThanOrEqual(1.5);
  });
});
