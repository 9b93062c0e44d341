// counters.ts and the counter columns of trace_model.ts on a hand-built trace:
// unmeasured rows (CounterColumn.unmeasured_row) stay out of the sums, per-op
// totals follow the structure's ops (fused kernels joined), a counter that was
// not live is listed with its error and has no column, and malformed columns
// are rejected.
import { describe, expect, test } from 'vitest';
import type { v1 } from '../proto.js';
import { counterColumnRows, counterReport, counterReportToJson, counterTables } from './counters.js';
import { buildDags } from './dag.js';
import { batch, engine, modelOf, op, strings } from './testing.js';

const NAMES = ['a', 'b', 'c', 'd'];

// #0 MUL_MAT, #1 RMS_NORM fused with #2 MUL, #3 ADD.
const structure: v1.ITracePacket = {
  graphStructure: {
    structureId: 1,
    pid: 1,
    nodes: [
      { tensorId: 1, op: op('MUL_MAT'), type: 0, ne: [4, 1, 1, 1], nameIid: 1, srcTensorIds: [] },
      { tensorId: 2, op: op('RMS_NORM'), type: 0, ne: [4, 1, 1, 1], nameIid: 2, srcTensorIds: [1] },
      { tensorId: 3, op: op('MUL'), type: 0, ne: [4, 1, 1, 1], nameIid: 3, srcTensorIds: [2] },
      { tensorId: 4, op: op('ADD'), type: 0, ne: [4, 1, 1, 1], nameIid: 4, srcTensorIds: [3] },
    ],
  },
};

const descriptors: v1.ITracePacket[] = [
  { counter: { counterId: 1, name: 'page-faults', kind: 'software', perfType: 1, perfConfig: 2, live: true } },
  { counter: { counterId: 2, name: 'cycles', kind: 'hardware', perfType: 0, perfConfig: 0, live: false, error: 'perf_event_open: No such file or directory' } },
  { counter: { counterId: 3, name: 'task-clock', kind: 'software', perfType: 1, perfConfig: 1, live: true } },
];

/** A batch of rows #0, #1 (+#2 fused), #3 with the given counter columns. */
function rowsWith(graphId: number, tid: number, counters: v1.ICounterColumn[]): v1.ITracePacket {
  const p = batch(graphId, tid, 100, [
    { node: 0, compute: 50, barrier: 5 },
    { node: 1, compute: 20, barrier: 5, fused: 1 },
    { node: 3, compute: 10, barrier: 0 },
  ]);
  (p.nodeEvents as v1.INodeEventBatch).counters = counters;
  return p;
}

function model(counters: v1.ICounterColumn[][]) {
  return modelOf([
    engine(),
    strings(NAMES),
    ...descriptors,
    structure,
    { graph: { pid: 1, tid: 10, graphId: 1, startNs: 100, durationNs: 100, structureId: 1, nThreads: 2, nNodes: 4 } },
    ...counters.map((c, i) => rowsWith(1, 10 + i, c)),
  ]);
}

describe('counter columns', () => {
  test('unmeasured rows are NaN in the model and left out of every sum', () => {
    const m = model([
      // Thread 10: page-faults measured in rows 0 and 2 (row 1 not); task-clock in all rows.
      [
        { counterId: 1, delta: [7, 3], unmeasuredRow: [1] },
        { counterId: 3, delta: [50, 20, 10] },
      ],
      // Thread 11: nothing measured in row 0 (its first row), one-probe spans.
      [
        { counterId: 1, delta: [0, 2], unmeasuredRow: [0], includesPreviousBarrier: true },
        { counterId: 3, delta: [25, 15], unmeasuredRow: [0], includesPreviousBarrier: true },
      ],
    ]);
    expect([...(m.counterColumns.get(1) ?? [])]).toEqual([7, NaN, 3, NaN, 0, 2]);
    expect([...(m.counterColumns.get(3) ?? [])]).toEqual([50, 20, 10, NaN, 25, 15]);
    expect(m.counterColumns.has(2)).toBe(false);
    expect([...m.counterIncludesPreviousBarrier].sort()).toEqual([1, 3]);

    const r = counterReport(m, buildDags(m));
    expect(r.counters.map((c) => [c.name, c.live, c.error])).toEqual([
      ['page-faults', true, undefined],
      ['cycles', false, 'perf_event_open: No such file or directory'],
      ['task-clock', true, undefined],
    ]);
    const pf = r.totals.find((t) => t.counter.name === 'page-faults');
    expect(pf).toMatchObject({ measured: 4, unmeasured: 2, total: 12 });
    expect(pf?.ops.map((o) => [o.op, o.total, o.measured, o.unmeasured, o.computeNs])).toEqual([
      ['MUL_MAT', 7, 1, 1, 50],
      ['ADD', 5, 2, 0, 20],
      ['RMS_NORM+MUL', 0, 1, 1, 20],
    ]);
    const tc = r.totals.find((t) => t.counter.name === 'task-clock');
    expect(tc).toMatchObject({ measured: 5, unmeasured: 1, total: 120 });
    expect(r.totals.map((t) => t.counter.name)).toEqual(['page-faults', 'task-clock']); // cycles: no rows

    const json = counterReportToJson(r) as { counters: { name: string; live: boolean; error?: string }[] };
    expect(json.counters[1]).toMatchObject({ name: 'cycles', live: false, error: 'perf_event_open: No such file or directory' });
    const text = counterTables(r, 10).join('\n');
    expect(text).toMatch(/cycles: not recorded: perf_event_open: No such file or directory/);
    expect(text).toMatch(/page-faults \(software\): total 12 over 4 rows; 2 rows not measured \(66\.7% measured\)/);
    expect(text).toMatch(/previous row's barrier wait/);
  });

  test('a trace without counters has no counter section', () => {
    const m = modelOf([engine(), strings(NAMES), structure, rowsWith(1, 10, [])]);
    const r = counterReport(m, buildDags(m));
    expect(r).toEqual({ counters: [], totals: [] });
    expect(counterTables(r, 10)).toEqual([]);
  });

  test.each([
    ['a row index past the batch', { counterId: 1, delta: [1, 2], unmeasuredRow: [5] }],
    ['rows not ascending', { counterId: 1, delta: [1], unmeasuredRow: [2, 1] }],
    ['more values than rows', { counterId: 1, delta: [1, 2, 3], unmeasuredRow: [0] }],
  ])('rejects a column with %s', (_what, col) => {
    expect(() => model([[col]])).toThrow(/CounterColumn|counter 1 has/);
  });
});

describe('counterColumnRows (for exporters holding protobufjs batches)', () => {
  test('places each delta on its row and leaves unmeasured rows undefined', () => {
    expect(counterColumnRows({ counterId: 1, delta: [4, 6], unmeasuredRow: [0, 2] }, 4)).toEqual([undefined, 4, undefined, 6]);
    expect(counterColumnRows({ counterId: 1, delta: [1, 2] }, 2)).toEqual([1, 2]);
  });
  test('refuses a column that does not fit the batch', () => {
    expect(() => counterColumnRows({ counterId: 1, delta: [1] }, 2)).toThrow(/1 deltas and 0 unmeasured rows for 2 rows/);
    expect(() => counterColumnRows({ counterId: 1, delta: [1], unmeasuredRow: [3] }, 2)).toThrow(/not ascending or past the batch/);
  });
});
