// sched.ts: each target thread's state over time, from the scheduler events of
// `profinferd record --sched` (SchedSwitchBatch / SchedWakeupBatch, written by
// collector-c/src/sched_tracer.c): running (on which CPU), runnable (preempted,
// or woken and waiting for a CPU) and sleeping, with who preempted it.
//
// A thread's state is known from its first event on: before it, nothing is
// claimed. Where the events contradict themselves (a thread switched out that
// was never switched in, or in twice), the stretch since its last event is
// `unknown`, not guessed: the kernel here (6.18) leaves out about one switch-in
// in a hundred under load, and ftrace's own sched_switch shows the same gaps.
// Times are ns relative to the model's `baseNs`, like the rest of the trace
// model.
import { longToBigInt, longToSignedBigInt, type v1 } from '../proto.js';
import type { TraceModel } from './trace_model.js';

/** The scheduler batches cannot be read as the schema says. */
export class SchedDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

export type ThreadState = 'running' | 'runnable' | 'sleeping' | 'unknown' | 'dead';

/** One switch: `prev` leaves `cpu`, `next` gets it. */
export interface SwitchEvent {
  readonly kind: 'switch';
  readonly ts: number;
  readonly cpu: number;
  readonly prevTid: number;
  /** Kernel task state bits of prev; 0: preempted while runnable. */
  readonly prevState: number;
  readonly nextTid: number;
  readonly nextPrio: number;
  readonly nextComm: string;
}

/** One sched_waking: `tid` becomes runnable, woken by `wakerTid` on `cpu`. */
export interface WakeupEvent {
  readonly kind: 'wakeup';
  readonly ts: number;
  readonly cpu: number;
  readonly tid: number;
  /** The CPU the woken thread last ran on. */
  readonly targetCpu: number;
  readonly wakerTid: number;
}

export type SchedEvent = SwitchEvent | WakeupEvent;

/** A stretch of one thread in one state. */
export interface StateInterval {
  readonly tid: number;
  readonly state: ThreadState;
  readonly start: number;
  readonly end: number;
  /** running: the CPU. */
  readonly cpu?: number;
  /** runnable: why it is waiting. */
  readonly cause?: 'preempted' | 'woken';
  /** runnable after a preemption: the task that took the CPU; after a wakeup: the waker. */
  readonly by?: number;
  readonly byComm?: string;
  /** sleeping: "S" (interruptible), "D" (uninterruptible) or the raw state in hex. */
  readonly sleep?: string;
}

export interface Preemptor {
  readonly tid: number;
  readonly comm: string;
  readonly count: number;
}

export interface ThreadSchedStats {
  readonly pid: number;
  readonly tid: number;
  readonly name: string;
  readonly runningNs: number;
  readonly runnableNs: number;
  /** Of runnableNs: waiting after a preemption (the rest: after a wakeup). */
  readonly preemptedNs: number;
  readonly sleepingNs: number;
  /** Time in no known state (between contradicting events): the true running / runnable time is within this much above the totals. */
  readonly unknownNs: number;
  /** Switch-outs while runnable (prev_state 0). */
  readonly preemptions: number;
  /** Switch-outs to sleep. */
  readonly sleeps: number;
  readonly wakeups: number;
  /** Switch-ins on a CPU other than the one it last ran on. */
  readonly migrations: number;
  readonly cpus: readonly number[];
  /** Who took the CPU at a preemption, most often first. */
  readonly preemptedBy: readonly Preemptor[];
  /** First and last event of this thread (relative ns). */
  readonly first: number;
  readonly last: number;
}

export interface SchedAnalysis {
  /** Whether the trace has scheduler events at all. */
  readonly present: boolean;
  readonly switches: number;
  readonly wakeups: number;
  /** Events the collector counted as lost (LossStats, EVENT_KIND_SCHED). */
  readonly lost: number;
  /** Target threads, by tid. */
  readonly threads: readonly ThreadSchedStats[];
  readonly intervals: readonly StateInterval[];
  /** Switches naming no target thread on either side (should be 0: the BPF filter keeps only target switches). */
  readonly foreignSwitches: number;
  /** A target thread switched out while not running (its switch-in unseen) or in while running (its switch-out unseen). */
  readonly unseenSwitches: number;
  /** Where the totals stop (relative ns). */
  readonly until: number;
}

type LongLike = Parameters<typeof longToBigInt>[0];
const num = (v: LongLike): number => Number(longToBigInt(v));
const signed = (v: LongLike): number => Number(longToSignedBigInt(v));

/** Longest batch the collector writes is 4096 rows; anything far beyond is damage. */
const MAX_BATCH_ROWS = 1 << 20;

function sameLength(what: string, cols: Record<string, readonly unknown[] | null | undefined>): number {
  const lengths = Object.entries(cols).map(([k, v]) => [k, v?.length ?? 0] as const);
  const n = lengths[0]?.[1] ?? 0;
  if (lengths.some(([, l]) => l !== n))
    throw new SchedDecodeError(`${what} columns differ in length: ${lengths.map(([k, l]) => `${k} ${l}`).join(', ')}`);
  if (n > MAX_BATCH_ROWS) throw new SchedDecodeError(`${what} has ${n} rows, more than ${MAX_BATCH_ROWS}`);
  return n;
}

/** Every switch and wakeup in the trace, in time order (relative ns). */
export function schedEvents(model: TraceModel): SchedEvent[] {
  const base = model.baseNs;
  const out: SchedEvent[] = [];
  for (const b of model.schedSwitch) {
    const n = sameLength('SchedSwitchBatch', {
      ts_delta_ns: b.tsDeltaNs, prev_tid: b.prevTid, prev_state: b.prevState, next_tid: b.nextTid,
      next_prio: b.nextPrio, next_comm_iid: b.nextCommIid,
    });
    let ts = longToBigInt(b.baseTsNs ?? 0);
    for (let i = 0; i < n; i++) {
      ts += longToBigInt(b.tsDeltaNs?.[i] ?? 0);
      const iid = b.nextCommIid?.[i] ?? 0;
      out.push({
        kind: 'switch',
        ts: Number(ts - base),
        cpu: b.cpu ?? 0,
        prevTid: b.prevTid?.[i] ?? 0,
        prevState: signed(b.prevState?.[i]),
        nextTid: b.nextTid?.[i] ?? 0,
        nextPrio: b.nextPrio?.[i] ?? 0,
        nextComm: model.strings.get(iid) ?? '',
      });
    }
  }
  for (const b of model.schedWakeup) {
    const n = sameLength('SchedWakeupBatch', {
      ts_delta_ns: b.tsDeltaNs, tid: b.tid, target_cpu: b.targetCpu, waker_tid: b.wakerTid,
    });
    let ts = longToBigInt(b.baseTsNs ?? 0);
    for (let i = 0; i < n; i++) {
      ts += longToBigInt(b.tsDeltaNs?.[i] ?? 0);
      out.push({
        kind: 'wakeup',
        ts: Number(ts - base),
        cpu: b.cpu ?? 0,
        tid: b.tid?.[i] ?? 0,
        targetCpu: b.targetCpu?.[i] ?? 0,
        wakerTid: b.wakerTid?.[i] ?? 0,
      });
    }
  }
  // At one instant a wakeup comes before the switch that runs the woken thread.
  return out.sort((a, b) => a.ts - b.ts || (a.kind === b.kind ? 0 : a.kind === 'wakeup' ? -1 : 1));
}

/** The threads of the target processes (ThreadInfo of a SessionInfo.target_pids process; all ThreadInfo when the session names none). */
export function targetThreads(model: TraceModel): Map<number, v1.IThreadInfo> {
  const pids = new Set(model.session?.targetPids ?? []);
  const out = new Map<number, v1.IThreadInfo>();
  for (const [tid, t] of model.threadInfo) if (pids.size === 0 || pids.has(t.pid ?? 0)) out.set(tid, t);
  return out;
}

/** Kernel task state bits (include/linux/sched.h). */
const TASK_INTERRUPTIBLE = 0x1;
const TASK_UNINTERRUPTIBLE = 0x2;
const EXIT_DEAD = 0x10;
const EXIT_ZOMBIE = 0x20;
const TASK_DEAD = 0x80;

function sleepKind(state: number): string {
  if (state & TASK_UNINTERRUPTIBLE) return 'D';
  if (state & TASK_INTERRUPTIBLE) return 'S';
  return `0x${state.toString(16)}`;
}

interface Track {
  state: ThreadState | undefined;
  since: number;
  cpu: number;
  lastCpu: number;
  cause?: 'preempted' | 'woken';
  by?: number;
  byComm?: string;
  sleep?: string;
  running: number;
  runnable: number;
  preemptedNs: number;
  sleeping: number;
  unknown: number;
  preemptions: number;
  sleeps: number;
  wakeups: number;
  migrations: number;
  cpus: Set<number>;
  preemptedBy: Map<number, { comm: string; count: number }>;
  first: number;
  last: number;
}

export interface SchedOptions {
  /** Stop the totals here (relative ns); default: the last scheduler event. */
  readonly until?: number;
  /** Keep the intervals (for exporters); default true. */
  readonly intervals?: boolean;
}

/** Per-thread state intervals and totals of the target threads. */
export function analyzeSched(model: TraceModel, o: SchedOptions = {}): SchedAnalysis {
  const events = schedEvents(model);
  const targets = targetThreads(model);
  const lost = (model.loss?.lost ?? []).filter((l) => l.kind === 5 || (l.kind as unknown) === 'EVENT_KIND_SCHED').reduce((a, l) => a + num(l.count), 0);
  const until = o.until ?? (events.length ? (events[events.length - 1] as SchedEvent).ts : 0);
  const keep = o.intervals ?? true;
  const tracks = new Map<number, Track>();
  const intervals: StateInterval[] = [];
  let foreign = 0;
  let unseen = 0;
  let switches = 0;
  let wakeups = 0;

  const track = (tid: number, ts: number): Track => {
    let t = tracks.get(tid);
    if (!t) {
      t = {
        state: undefined, since: ts, cpu: -1, lastCpu: -1, running: 0, runnable: 0, preemptedNs: 0, sleeping: 0, unknown: 0,
        preemptions: 0, sleeps: 0, wakeups: 0, migrations: 0, cpus: new Set(), preemptedBy: new Map(), first: ts, last: ts,
      };
      tracks.set(tid, t);
    }
    return t;
  };
  // Ends the current interval at `ts` (clipped to `until`).
  const close = (tid: number, t: Track, ts: number): void => {
    const end = Math.min(ts, until);
    if (t.state !== undefined && end > t.since) {
      const d = end - t.since;
      if (t.state === 'running') t.running += d;
      else if (t.state === 'runnable') {
        t.runnable += d;
        if (t.cause === 'preempted') t.preemptedNs += d;
      } else if (t.state === 'sleeping') t.sleeping += d;
      else if (t.state === 'unknown') t.unknown += d;
      if (keep) {
        intervals.push({
          tid, state: t.state, start: t.since, end,
          ...(t.state === 'running' ? { cpu: t.cpu } : {}),
          ...(t.state === 'runnable' ? { cause: t.cause, by: t.by, byComm: t.byComm } : {}),
          ...(t.state === 'sleeping' ? { sleep: t.sleep } : {}),
        });
      }
    }
    t.since = ts;
    t.last = Math.max(t.last, ts);
  };

  for (const e of events) {
    if (e.ts > until) break;
    if (e.kind === 'switch') {
      switches++;
      const prevTarget = targets.has(e.prevTid);
      const nextTarget = targets.has(e.nextTid);
      if (!prevTarget && !nextTarget) foreign++;
      if (prevTarget) {
        const t = track(e.prevTid, e.ts);
        if (t.state !== undefined && (t.state !== 'running' || t.cpu !== e.cpu)) {
          unseen++;
          t.state = 'unknown'; // it ran from some moment we did not see
        }
        close(e.prevTid, t, e.ts);
        t.lastCpu = e.cpu;
        t.cpus.add(e.cpu);
        t.cause = t.by = t.byComm = t.sleep = undefined;
        if (e.prevState === 0) {
          t.state = 'runnable';
          t.cause = 'preempted';
          t.by = e.nextTid;
          t.byComm = e.nextComm;
          t.preemptions++;
          const p = t.preemptedBy.get(e.nextTid) ?? { comm: e.nextComm, count: 0 };
          p.count++;
          t.preemptedBy.set(e.nextTid, p);
        } else if (e.prevState & (TASK_DEAD | EXIT_DEAD | EXIT_ZOMBIE)) {
          t.state = 'dead';
        } else {
          t.state = 'sleeping';
          t.sleep = sleepKind(e.prevState);
          t.sleeps++;
        }
      }
      if (nextTarget) {
        const t = track(e.nextTid, e.ts);
        if (t.state === 'running') {
          unseen++;
          t.state = 'unknown'; // it stopped at some moment we did not see
        }
        close(e.nextTid, t, e.ts);
        if (t.lastCpu >= 0 && t.lastCpu !== e.cpu) t.migrations++;
        t.state = 'running';
        t.cpu = t.lastCpu = e.cpu;
        t.cpus.add(e.cpu);
        t.cause = t.by = t.byComm = t.sleep = undefined;
      }
    } else {
      wakeups++;
      if (!targets.has(e.tid)) continue;
      const t = track(e.tid, e.ts);
      t.wakeups++;
      // Waking a thread that is not asleep (it had not reached schedule() yet) changes nothing.
      if (t.state === 'running' || t.state === 'runnable') continue;
      close(e.tid, t, e.ts);
      t.state = 'runnable';
      t.cause = 'woken';
      t.by = e.wakerTid;
      t.byComm = undefined;
      t.sleep = undefined;
    }
  }
  for (const [tid, t] of tracks) if (t.state !== 'dead') close(tid, t, until);

  const threads: ThreadSchedStats[] = [...tracks]
    .map(([tid, t]) => {
      const info = targets.get(tid);
      return {
        pid: info?.pid ?? 0,
        tid,
        name: info?.name ?? '',
        runningNs: t.running,
        runnableNs: t.runnable,
        preemptedNs: t.preemptedNs,
        sleepingNs: t.sleeping,
        unknownNs: t.unknown,
        preemptions: t.preemptions,
        sleeps: t.sleeps,
        wakeups: t.wakeups,
        migrations: t.migrations,
        cpus: [...t.cpus].sort((a, b) => a - b),
        preemptedBy: [...t.preemptedBy]
          .map(([ptid, p]) => ({ tid: ptid, comm: p.comm, count: p.count }))
          .sort((a, b) => b.count - a.count || a.tid - b.tid),
        first: t.first,
        last: t.last,
      };
    })
    .sort((a, b) => a.tid - b.tid);
  return {
    present: model.schedSwitch.length + model.schedWakeup.length > 0,
    switches,
    wakeups,
    lost,
    threads,
    intervals,
    foreignSwitches: foreign,
    unseenSwitches: unseen,
    until,
  };
}

/** The --json form: ns as numbers, per thread. */
export function schedToJson(a: SchedAnalysis): Record<string, unknown> {
  return {
    switches: a.switches,
    wakeups: a.wakeups,
    lost: a.lost,
    unseen_switches: a.unseenSwitches,
    threads: a.threads.map((t) => ({
      pid: t.pid,
      tid: t.tid,
      name: t.name,
      running_ns: t.runningNs,
      runnable_ns: t.runnableNs,
      runnable_after_preemption_ns: t.preemptedNs,
      sleeping_ns: t.sleepingNs,
      unknown_ns: t.unknownNs,
      preemptions: t.preemptions,
      sleeps: t.sleeps,
      wakeups: t.wakeups,
      migrations: t.migrations,
      cpus: t.cpus,
      preempted_by: t.preemptedBy.map((p) => ({ tid: p.tid, comm: p.comm, count: p.count })),
    })),
  };
}

const sumUnknown = (a: SchedAnalysis): number => a.threads.reduce((s, t) => s + t.unknownNs, 0);

/** The analyze command's "threads (scheduler)" section. */
export function schedLines(a: SchedAnalysis, top = 3): string[] {
  const ms = (ns: number): string => (ns / 1e6).toFixed(2);
  const out = ['', `  threads (scheduler: ${a.switches} switches, ${a.wakeups} wakeups, ${a.lost} lost${a.unseenSwitches ? `, ${a.unseenSwitches} switches unseen: ${ms(sumUnknown(a))} ms in no known state` : ''})`];
  out.push(
    `  ${'tid'.padEnd(10)}${'name'.padEnd(17)}${'running ms'.padStart(12)}${'runnable ms'.padStart(13)}${'sleeping ms'.padStart(13)}` +
      `${'preempted'.padStart(11)}${'migrations'.padStart(12)}  cpus   preempted by`,
  );
  for (const t of a.threads) {
    const by = t.preemptedBy.slice(0, top).map((p) => `${p.comm || '?'}/${p.tid} x${p.count}`).join(', ');
    out.push(
      `  ${String(t.tid).padEnd(10)}${t.name.slice(0, 16).padEnd(17)}${ms(t.runningNs).padStart(12)}${ms(t.runnableNs).padStart(13)}` +
        `${ms(t.sleepingNs).padStart(13)}${String(t.preemptions).padStart(11)}${String(t.migrations).padStart(12)}  ` +
        `${t.cpus.join(',').padEnd(7)}${by || '-'}`,
    );
  }
  return out;
}
