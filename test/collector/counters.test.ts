// profinferd record --counters: software perf counters per node and thread,
// recorded from a real llama.cpp run (static ggml, OpenMP, 2 threads) in both
// node-probe modes, checked against readings the collector did not make:
// - the node's own timestamps (task-clock runs like the wall clock while the
//   thread is on its CPU, so a row's task-clock delta equals its time span);
// - the kernel's other fault counters (page-faults = minor-faults +
//   major-faults, three separate perf events in three BPF slots);
// - getrusage of profinferd and its waited-for target (/usr/bin/time), an
//   upper bound of every fault the target took;
// - how mmap works: the weights fault in on first touch, so the first graph's
//   MUL_MAT nodes fault and later graphs hardly do (--no-warmup);
// - the trace's own loss accounting (SessionEnd totals, EVENT_KIND_COUNTER).
// `cycles` cannot be opened here (a VM without a hardware PMU): it must be
// reported up front and in the trace, and never appear in the rows.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { analyzeCommand } from '../../host/src/commands/analyze/analyze.js';
import { buildDags } from '../../host/src/analysis/dag.js';
import { type TraceModel, TraceModelBuilder } from '../../host/src/analysis/trace_model.js';
import { readTraceFile } from '../../host/src/decode/stream_reader.js';
import { longToBigInt, type v1 } from '../../host/src/proto.js';
import {
  type DecodedTrace, type ProcResult, collectorLines, lossByKind, readTrace, requireProfinferd, requireRoot, requireTool, run,
} from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

const COUNTERS = ['task-clock', 'page-faults', 'minor-faults', 'major-faults', 'context-switches', 'cycles'] as const;
const id = (name: (typeof COUNTERS)[number]): number => COUNTERS.indexOf(name) + 1; // counter_id: 1-based list position
const EVENT_KIND_COUNTER = 6;

let dir: string;
let model: string;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  requireTool('/usr/bin/time');
  model = ensureModel('tiny', 'f16');
  dir = mkdtempSync(join(tmpdir(), 'pi-collector-counters-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Recording {
  readonly run: ProcResult;
  readonly trace: DecodedTrace;
  readonly model: TraceModel;
  /** minflt + majflt of profinferd and its target together (getrusage via /usr/bin/time). */
  readonly faultsBound: number;
}

async function record(mode: 'one' | 'two'): Promise<Recording> {
  const out = join(dir, `counters-${mode}.pftrace`);
  const args = [
    '-f', 'rusage minflt=%R majflt=%F', requireProfinferd(), 'record', '-o', out, '--node-probes', mode,
    '--counters', COUNTERS.join(','), '--',
    llamaBin('llama-completion'), '-m', model, '-n', '8', '-p', 'Hello my name is', '-t', '2', '-no-cnv', '--temp', '0',
    '--no-warmup',
  ];
  const r = await run('/usr/bin/time', args);
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const m = /^rusage minflt=(\d+) majflt=(\d+)$/m.exec(r.stderr);
  if (!m) throw new Error(`no rusage line from /usr/bin/time:\n${r.stderr.slice(-2000)}`);
  const builder = new TraceModelBuilder();
  for await (const raw of readTraceFile(out)) builder.add(raw);
  return { run: r, trace: await readTrace(out), model: builder.build(), faultsBound: Number(m[1]) + Number(m[2]) };
}

function allBatches(t: DecodedTrace): v1.INodeEventBatch[] {
  return [...t.batches.values()].flat();
}

/** The values of counter `cid` of a row, per row of the model (NaN: not measured). */
function column(m: TraceModel, cid: number): Float64Array {
  const c = m.counterColumns.get(cid);
  if (!c) throw new Error(`counter ${cid} has no column in the trace`);
  return c;
}

describe.each(['one', 'two'] as const)('profinferd record --counters (--node-probes %s)', (mode) => {
  let rec: Recording;

  beforeAll(async () => {
    rec = await record(mode);
  }, 120_000);

  it('says up front, on one line, that cycles cannot be opened and what to use instead', () => {
    const lines = collectorLines(rec.run.stderr);
    const warnings = lines.filter((l) => /^warning: counter /.test(l));
    expect(warnings, rec.run.stderr.slice(-3000)).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: counter 'cycles' not recorded: perf_event_open: No such file or directory: .*software counters/);
    // Before recording starts, not at the end.
    expect(lines.indexOf(warnings[0] as string)).toBeLessThan(lines.findIndex((l) => /^profinferd: recording process/.test(l)));
  });

  it('describes every counter once near the session start: cycles not live with its error, the others live', () => {
    const packets = rec.trace.packets;
    const descs = packets.filter((p) => p.counter).map((p) => p.counter as v1.ICounterDescriptor);
    expect(descs.map((d) => [d.counterId, d.name])).toEqual(COUNTERS.map((n) => [id(n), n]));
    for (const d of descs) {
      if (d.name === 'cycles') {
        expect(d.live ?? false).toBe(false);
        expect(d.kind).toBe('hardware');
        expect(d.error).toMatch(/No such file or directory/);
      } else {
        expect(d.live, d.name ?? '').toBe(true);
        expect(d.kind).toBe('software');
      }
    }
    expect(rec.trace.session?.config?.counters).toEqual([...COUNTERS]);
    const firstCounter = packets.findIndex((p) => p.counter);
    expect(firstCounter).toBeLessThan(packets.findIndex((p) => p.nodeEvents));
    expect(firstCounter).toBeLessThan(packets.findIndex((p) => p.token));
  });

  it('gives every batch a column per live counter covering each row once, and none for cycles', () => {
    const batches = allBatches(rec.trace);
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      const rows = (b.nodeIndexDelta ?? []).length;
      const cols = b.counters ?? [];
      expect(cols.map((c) => c.counterId).sort()).toEqual(COUNTERS.filter((n) => n !== 'cycles').map(id).sort());
      for (const c of cols) {
        const missing = c.unmeasuredRow ?? [];
        expect((c.delta ?? []).length + missing.length).toBe(rows);
        for (let i = 0; i < missing.length; i++) {
          expect(missing[i]).toBeLessThan(rows);
          if (i) expect(missing[i]).toBeGreaterThan(missing[i - 1] as number);
        }
        expect(c.includesPreviousBarrier ?? false).toBe(mode === 'one');
      }
    }
    expect(rec.model.counterColumns.has(id('cycles'))).toBe(false);
  });

  it('measures most rows, and counts the others in the session totals instead of writing numbers', () => {
    const m = rec.model;
    let measured = 0;
    let unmeasured = 0;
    for (const [, col] of m.counterColumns) for (const v of col) Number.isNaN(v) ? unmeasured++ : measured++;
    expect(measured + unmeasured).toBe(m.nodes.length * (COUNTERS.length - 1));
    // Two threads on two shared cores: preemption takes some rows (about a third on an overloaded
    // machine), never nearly all; a guard that always fired would leave none.
    expect(measured / (measured + unmeasured)).toBeGreaterThan(0.3);
    const totals = rec.trace.sessionEnd?.totals;
    expect(lossByKind(totals?.recorded)[EVENT_KIND_COUNTER] ?? 0n).toBe(BigInt(measured));
    expect(lossByKind(totals?.lost)[EVENT_KIND_COUNTER] ?? 0n).toBe(BigInt(unmeasured));
    // Whether a row was measured is decided per row: every live counter agrees (all read on each hit).
    const tc = column(m, id('task-clock'));
    for (const name of ['page-faults', 'context-switches'] as const) {
      const c = column(m, id(name));
      for (let r = 0; r < m.nodes.length; r++) expect(Number.isNaN(c[r] as number)).toBe(Number.isNaN(tc[r] as number));
    }
  });

  it("has task-clock deltas equal to each row's own time span (its compute, plus the previous barrier in one-probe mode)", () => {
    const m = rec.model;
    const n = m.nodes;
    const tc = column(m, id('task-clock'));
    const spansBarrier = m.counterIncludesPreviousBarrier.has(id('task-clock'));
    expect(spansBarrier).toBe(mode === 'one');
    const deviations: number[] = [];
    let close = 0;
    for (let r = 0; r < n.length; r++) {
      const v = tc[r] as number;
      if (Number.isNaN(v)) continue;
      let span = n.compute[r] as number;
      if (spansBarrier) {
        // The base reading is this thread's previous barrier entry, so a measured row always has a previous row.
        expect(r > 0 && n.thread[r - 1] === n.thread[r] && n.graph[r - 1] === n.graph[r]).toBe(true);
        span += n.barrier[r - 1] as number;
      }
      deviations.push(Math.abs(v - span));
      // A wrong base (a row too early), a wrong slot or unit is off by the whole span.
      if (Math.abs(v - span) <= 10_000 + 0.1 * span) close++;
    }
    expect(deviations.length).toBeGreaterThan(100);
    // Typically within a few hundred ns: the probes read the counters just after their timestamps.
    deviations.sort((a, b) => a - b);
    expect(deviations[deviations.length >> 1]).toBeLessThan(1_500);
    // On an overloaded VM the perf clocks fall behind the probes' ktime by a few us on some rows.
    expect(close / deviations.length).toBeGreaterThan(0.95);
  });

  it('never shows a context switch in a measured row (the guard keeps switched-out rows out)', () => {
    const cs = column(rec.model, id('context-switches'));
    let measured = 0;
    for (const v of cs) {
      if (Number.isNaN(v)) continue;
      measured++;
      expect(v).toBe(0);
    }
    expect(measured).toBeGreaterThan(0);
  });

  it('has page-faults = minor-faults + major-faults in every row, from three separate perf events', () => {
    const m = rec.model;
    const pf = column(m, id('page-faults'));
    const minor = column(m, id('minor-faults'));
    const major = column(m, id('major-faults'));
    let both = 0;
    for (let r = 0; r < m.nodes.length; r++) {
      if (Number.isNaN(pf[r] as number)) continue;
      both++;
      expect(pf[r]).toBe((minor[r] as number) + (major[r] as number));
    }
    expect(both).toBeGreaterThan(0);
  });

  it("puts the mmapped weights' first-touch faults in the first graph's weight-reading nodes, within what getrusage saw", () => {
    const WEIGHT_OPS = new Set(['MUL_MAT', 'MUL_MAT_ID', 'GET_ROWS']);
    const m = rec.model;
    const dags = new Map(buildDags(m).map((d) => [d.structureId, d]));
    const pf = column(m, id('page-faults'));
    const firstGraph = Math.min(...m.graphs.map((g) => g.id));
    let total = 0;
    let firstMulMat = 0;
    let first = 0;
    let later = 0;
    for (let r = 0; r < m.nodes.length; r++) {
      const v = pf[r] as number;
      if (Number.isNaN(v)) continue;
      const g = m.graphs[m.nodes.graph[r] as number];
      total += v;
      if (g?.id === firstGraph) {
        first += v;
        // The ops that read weights; a faulting row is often unmeasured (a major
        // fault sleeps, so the thread was switched out), so any of them counts.
        if (WEIGHT_OPS.has(dags.get(g.structureId)?.nodes[m.nodes.node[r] as number]?.op ?? '')) firstMulMat += v;
      } else later += v;
    }
    expect(firstMulMat).toBeGreaterThan(0);
    expect(first).toBeGreaterThan(later);
    expect(total).toBeLessThanOrEqual(rec.faultsBound);
  });

  it('analyze --json reports per-op totals that add up to the rows, and cycles as not recorded', async () => {
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      stdout += String(s);
      return true;
    });
    try {
      expect(await analyzeCommand({ trace: join(dir, `counters-${mode}.pftrace`), json: true, peaks: '100,20', top: 12 })).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const json = JSON.parse(stdout) as {
      counters: {
        counters: { name: string; live: boolean; error?: string }[];
        totals: { counter: string; total: number; measured_rows: number; ops: { op: string; total: number }[] }[];
      };
    };
    expect(json.counters.counters.find((c) => c.name === 'cycles')).toMatchObject({ live: false, error: expect.stringMatching(/No such file/) });
    expect(json.counters.totals.map((t) => t.counter)).toEqual(COUNTERS.filter((n) => n !== 'cycles'));
    // Independent sum straight from the protobuf batches (protobufjs, not the model's reader).
    let faults = 0n;
    for (const b of allBatches(rec.trace)) {
      for (const c of b.counters ?? []) if (c.counterId === id('page-faults')) for (const d of c.delta ?? []) faults += longToBigInt(d);
    }
    const pfTotals = json.counters.totals.find((t) => t.counter === 'page-faults');
    expect(pfTotals?.total).toBe(Number(faults));
    expect(pfTotals?.ops.reduce((s, o) => s + o.total, 0)).toBe(Number(faults));
    expect(pfTotals?.ops.some((o) => o.op === 'MUL_MAT')).toBe(true);
  });
});

describe('profinferd record --counters refuses bad lists before attaching anything', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown name', 'task-clock,cycels', /^error: unknown counter 'cycels' in --counters; valid: hardware: cycles .*software: task-clock .*raw:0xCODE; ARMv8 PMUv3 names/],
    ['bad raw code', 'raw:0xzz', /^error: unknown counter 'raw:0xzz' in --counters/],
    ['empty entry', 'task-clock,,page-faults', /^error: bad --counters entry '' \(empty or too long\)/],
    ['duplicate', 'page-faults,faults', /^error: counter 'faults' is listed twice in --counters \(as 'page-faults'\)/],
    ['more than 8', 'cpu-clock,task-clock,page-faults,minor-faults,major-faults,context-switches,cpu-migrations,alignment-faults,emulation-faults', /^error: too many counters: at most 8 per session \('emulation-faults' is number 9\)/],
  ];
  it.each(cases)('%s', async (_what, list, message) => {
    const out = join(dir, 'bad-counters.pftrace');
    const r = await run(requireProfinferd(), ['record', '-o', out, '--counters', list, '--', llamaBin('llama-completion'), '-m', model, '-n', '1', '-p', 'Hi', '-no-cnv']);
    expect(r.code).toBe(2);
    const lines = collectorLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1); // nothing recorded, nothing started
    expect(lines[0]).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
