import { describe, expect, it } from 'vitest';
import type { v1 } from '../proto.js';
import { analyzeSched, SchedDecodeError, schedEvents, schedToJson } from './sched.js';
import { modelOf } from './testing.js';
import { TraceModelBuilder } from './trace_model.js';

// Absolute CLOCK_MONOTONIC ns; the model counts from the first one it sees (T0).
const T0 = 5_000_000_000;
const HOG = 500;
const IID = 1 << 30; // the collector's scheduler iids start here (sched_tracer.h)

const session: v1.ITracePacket = { session: { targetPids: [100] } };
const threads: v1.ITracePacket[] = [
  { thread: { pid: 100, tid: 100, name: 'llama-cli' } },
  { thread: { pid: 100, tid: 101, name: 'llama-cli' } },
];
const comms: v1.ITracePacket = {
  interned: { strings: ['swapper/0', 'hog', 'llama-cli', 'swapper/1'].map((str, i) => ({ iid: IID + 1 + i, str })) },
};
const SWAPPER0 = IID + 1;
const HOG_COMM = IID + 2;
const LLAMA = IID + 3;
const SWAPPER1 = IID + 4;

interface Sw {
  ts: number;
  prev: number;
  state: number;
  next: number;
  comm: number;
}

function switches(cpu: number, rows: readonly Sw[]): v1.ITracePacket {
  const base = T0 + (rows[0] as Sw).ts;
  return {
    schedSwitch: {
      cpu,
      baseTsNs: base,
      tsDeltaNs: rows.map((r, i) => (i ? r.ts - (rows[i - 1] as Sw).ts : 0)),
      prevTid: rows.map((r) => r.prev),
      prevState: rows.map((r) => r.state),
      nextTid: rows.map((r) => r.next),
      nextPrio: rows.map(() => 120),
      nextCommIid: rows.map((r) => r.comm),
    } as unknown as v1.ISchedSwitchBatch,
  };
}

function wakeups(cpu: number, rows: readonly { ts: number; tid: number; waker: number }[]): v1.ITracePacket {
  return {
    schedWakeup: {
      cpu,
      baseTsNs: T0 + (rows[0]?.ts ?? 0),
      tsDeltaNs: rows.map((r, i) => (i ? r.ts - (rows[i - 1]?.ts ?? 0) : 0)),
      tid: rows.map((r) => r.tid),
      targetCpu: rows.map(() => 0),
      wakerTid: rows.map((r) => r.waker),
    } as unknown as v1.ISchedWakeupBatch,
  };
}

// Thread 100: runs on CPU 0, is preempted by the hog, runs again, sleeps, is
// woken by 101, runs on CPU 1 (a migration) and exits. Thread 101 runs on CPU 1
// and goes to sleep.
const cpu0 = switches(0, [
  { ts: 1000, prev: 0, state: 0, next: 100, comm: LLAMA },
  { ts: 3000, prev: 100, state: 0, next: HOG, comm: HOG_COMM },
  { ts: 4000, prev: HOG, state: 0, next: 100, comm: LLAMA },
  { ts: 6000, prev: 100, state: 1, next: 0, comm: SWAPPER0 },
]);
const cpu1 = switches(1, [
  { ts: 0, prev: 0, state: 0, next: 101, comm: LLAMA },
  { ts: 8500, prev: 101, state: 0x2001, next: 0, comm: SWAPPER1 }, // S | TASK_FREEZABLE
  { ts: 9000, prev: 0, state: 0, next: 100, comm: LLAMA },
  { ts: 9500, prev: 100, state: 0x80, next: 0, comm: SWAPPER1 }, // TASK_DEAD
]);
const woken = wakeups(1, [{ ts: 8000, tid: 100, waker: 101 }]);

describe('analyzeSched', () => {
  const model = modelOf([session, ...threads, comms, cpu1, cpu0, woken]);
  const a = analyzeSched(model);
  const t100 = a.threads.find((t) => t.tid === 100);
  const t101 = a.threads.find((t) => t.tid === 101);

  it('decodes the batches into time-ordered events with comm names', () => {
    const ev = schedEvents(model);
    expect(ev.map((e) => e.ts)).toEqual([0, 1000, 3000, 4000, 6000, 8000, 8500, 9000, 9500]);
    const preempt = ev.find((e) => e.kind === 'switch' && e.prevTid === 100 && e.prevState === 0);
    expect(preempt).toMatchObject({ cpu: 0, nextTid: HOG, nextComm: 'hog' });
    expect(a.switches).toBe(8);
    expect(a.wakeups).toBe(1);
  });

  it('rebuilds running, runnable and sleeping time per thread', () => {
    expect(t100).toMatchObject({
      runningNs: 2000 + 2000 + 500,
      runnableNs: 1000 + 1000,
      preemptedNs: 1000,
      sleepingNs: 2000,
      preemptions: 1,
      sleeps: 1,
      wakeups: 1,
      migrations: 1,
      cpus: [0, 1],
      name: 'llama-cli',
      pid: 100,
    });
    expect(t100?.preemptedBy).toEqual([{ tid: HOG, comm: 'hog', count: 1 }]);
    // 101 sleeps from 8500 to the last event (9500).
    expect(t101).toMatchObject({ runningNs: 8500, runnableNs: 0, sleepingNs: 1000, preemptions: 0, migrations: 0 });
    expect(a.threads.map((t) => t.tid)).toEqual([100, 101]); // the hog is no target
    expect(a.foreignSwitches).toBe(0);
    expect(a.unseenSwitches).toBe(0);
    expect(t100?.unknownNs).toBe(0);
  });

  it('keeps the intervals, with the CPU, the preemptor and the sleep kind', () => {
    const mine = a.intervals.filter((i) => i.tid === 100).sort((x, y) => x.start - y.start);
    expect(mine.map((i) => [i.state, i.start, i.end])).toEqual([
      ['running', 1000, 3000],
      ['runnable', 3000, 4000],
      ['running', 4000, 6000],
      ['sleeping', 6000, 8000],
      ['runnable', 8000, 9000],
      ['running', 9000, 9500],
    ]);
    expect(mine[1]).toMatchObject({ cause: 'preempted', by: HOG, byComm: 'hog' });
    expect(mine[3]).toMatchObject({ sleep: 'S' });
    expect(mine[4]).toMatchObject({ cause: 'woken', by: 101 });
    expect(mine[5]).toMatchObject({ cpu: 1 });
  });

  it('stops the totals at `until`', () => {
    const cut = analyzeSched(model, { until: 3500 });
    expect(cut.threads.find((t) => t.tid === 100)).toMatchObject({ runningNs: 2000, runnableNs: 500 });
    expect(cut.threads.find((t) => t.tid === 101)).toMatchObject({ runningNs: 3500 });
  });

  it('counts switches without a target thread, and leaves the time before an unseen switch unknown', () => {
    const odd = switches(0, [
      { ts: 10_000, prev: 600, state: 0, next: 700, comm: HOG_COMM }, // no target on either side
      { ts: 10_100, prev: 0, state: 0, next: 101, comm: LLAMA },
      { ts: 10_200, prev: 0, state: 0, next: 101, comm: LLAMA }, // in again without going out
    ]);
    const b = analyzeSched(modelOf([session, ...threads, comms, cpu1, cpu0, woken, odd]));
    expect(b.foreignSwitches).toBe(1);
    expect(b.unseenSwitches).toBe(1);
    // 101 slept from 8500; at 10_100 it runs; at 10_200 it is switched in again: 100 ns unknown.
    expect(b.threads.find((t) => t.tid === 101)).toMatchObject({ unknownNs: 100, runningNs: 8500, sleepingNs: 10_100 - 8500 });
  });

  it('reports the JSON form', () => {
    const j = schedToJson(a) as { threads: { tid: number; preempted_by: unknown[] }[] };
    expect(j.threads.find((t) => t.tid === 100)?.preempted_by).toEqual([{ tid: HOG, comm: 'hog', count: 1 }]);
  });

  it('refuses batches whose columns differ in length', () => {
    const bad = switches(0, [{ ts: 1, prev: 100, state: 0, next: 0, comm: SWAPPER0 }]);
    (bad.schedSwitch as { nextTid: number[] }).nextTid = [];
    expect(() => analyzeSched(modelOf([session, ...threads, bad]))).toThrow(SchedDecodeError);
    expect(() => analyzeSched(modelOf([session, ...threads, bad]))).toThrow(/next_tid 0/);
  });

  it('says when there is nothing to analyse', () => {
    const none = analyzeSched(modelOf([session, ...threads]));
    expect(none.present).toBe(false);
    expect(none.threads).toEqual([]);
  });

  it('reads the bytes the C encoder writes (collector-c/test/sched_encode_test.c, hand-checked vector)', () => {
    // cpu 1; at 1000 ns tid 7 is preempted (state 0) by tid 9 (prio 120, comm iid 2);
    // at 1300 ns tid 9 goes to sleep (state 1) and the idle task (0, iid 1) runs.
    const hex = '221e' + '0801' + '10e807' + '1a0300ac02' + '22020709' + '2a020001' + '32020900' + '3a027878' + '42020201';
    const b = new TraceModelBuilder();
    b.addPacket({ session: { targetPids: [7] } });
    b.addPacket({ thread: { pid: 7, tid: 7, name: 'seven' } });
    b.addPacket({ interned: { strings: [{ iid: 1, str: 'swapper/1' }, { iid: 2, str: 'nine' }] } });
    b.addBytes(Uint8Array.from(Buffer.from(hex, 'hex')));
    const m = b.build();
    expect(schedEvents(m)).toEqual([
      { kind: 'switch', ts: 0, cpu: 1, prevTid: 7, prevState: 0, nextTid: 9, nextPrio: 120, nextComm: 'nine' },
      { kind: 'switch', ts: 300, cpu: 1, prevTid: 9, prevState: 1, nextTid: 0, nextPrio: 120, nextComm: 'swapper/1' },
    ]);
    const a7 = analyzeSched(m).threads[0];
    expect(a7).toMatchObject({ tid: 7, preemptions: 1, runnableNs: 300, preemptedBy: [{ tid: 9, comm: 'nine', count: 1 }] });
    expect(analyzeSched(m).foreignSwitches).toBe(1); // 9 -> 0 involves no target: the BPF filter would not keep it
  });
});

