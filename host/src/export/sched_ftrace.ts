// sched_ftrace.ts: the scheduler batches of `profinferd record --sched`
// (SchedSwitchBatch / SchedWakeupBatch, one CPU each) as Perfetto ftrace
// events: one TracePacket { ftrace_events: FtraceEventBundle { cpu, event* } }
// per batch, with full sched_switch / sched_waking events, so Perfetto builds
// its CPU tracks and the thread-state tracks (Running, Runnable, Runnable
// (Preempted), Sleeping) of the target's threads by itself.
//
// Full events, not compact_sched: compact_sched leaves prev_pid out and takes
// it from the previous switch on the CPU, which the collector did not keep
// (it keeps only switches that involve a target thread).
//
// What is not recorded stays out: prev_prio, and prev_comm of a thread that
// is no target (the wire has neither). Timestamps are CLOCK_MONOTONIC as
// recorded, like the TrackEvents of perfetto.ts (both read on Perfetto's
// default clock, so they line up).
import { longToBigInt, longToSignedBigInt, type v1 } from '../proto.js';
import { ProtoWriter } from './proto_writer.js';

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const tag = (field: number, wire: number): number => (field << 3) | wire;

/** Upstream field numbers (protos/perfetto/trace/ftrace/{ftrace_event_bundle,ftrace_event,sched}.proto). */
export const FTRACE_FIELDS = {
  Trace: { packet: 1 },
  TracePacket: { ftrace_events: 1, trusted_packet_sequence_id: 10 },
  FtraceEventBundle: { cpu: 1, event: 2 },
  FtraceEvent: { timestamp: 1, pid: 2, sched_switch: 4, sched_waking: 20 },
  SchedSwitchFtraceEvent: { prev_comm: 1, prev_pid: 2, prev_prio: 3, prev_state: 4, next_comm: 5, next_pid: 6, next_prio: 7 },
  SchedWakingFtraceEvent: { comm: 1, pid: 2, prio: 3, success: 4, target_cpu: 5 },
} as const;
const F = FTRACE_FIELDS;

/** Kernel task state bits (include/linux/sched.h). */
const TASK_REPORT = 0x7f;
const EXIT_DEAD = 0x10;
const TASK_DEAD = 0x80;

/**
 * The collector's prev_state (task_struct __state, 0 when preempted) as the
 * sched_switch tracepoint reports it and Perfetto reads it: one bit, the
 * highest of the reportable ones (S 1, D 2, T 4, t 8, X 16, Z 32, P 64).
 */
export function reportedPrevState(state: bigint): number {
  if (state === 0n) return 0;
  const s = Number(state & 0xffffn);
  if (s & TASK_DEAD) return EXIT_DEAD;
  const r = s & TASK_REPORT;
  if (r === 0) return 1; // a state outside the report mask (e.g. only TASK_NOLOAD): sleeping
  return 1 << (31 - Math.clz32(r));
}

/** Turns scheduler packets into Perfetto Trace bytes; learns names from the other packets. */
export class SchedFtraceEncoder {
  readonly #strings = new Map<number, string>();
  readonly #threadNames = new Map<number, string>();
  readonly #w = new ProtoWriter(1 << 14);
  events = 0;

  /** Perfetto Trace bytes (one or more framed TracePackets) for a scheduler packet; undefined for any other. */
  add(p: v1.ITracePacket): Uint8Array | undefined {
    if (p.interned) for (const s of p.interned.strings ?? []) this.#strings.set(s.iid ?? 0, s.str ?? '');
    else if (p.thread) this.#threadNames.set(p.thread.tid ?? 0, p.thread.name ?? '');
    else if (p.schedSwitch) return this.#switches(p.schedSwitch);
    else if (p.schedWakeup) return this.#wakeups(p.schedWakeup);
    return undefined;
  }

  #open(cpu: number): ProtoWriter {
    const w = this.#w;
    w.uint32(tag(F.Trace.packet, WIRE_LEN)).fork();
    // The exporter's one sequence (perfetto.ts): ftrace bundles use no interned state of it.
    w.uint32(tag(F.TracePacket.trusted_packet_sequence_id, WIRE_VARINT)).uint32(1);
    w.uint32(tag(F.TracePacket.ftrace_events, WIRE_LEN)).fork();
    w.uint32(tag(F.FtraceEventBundle.cpu, WIRE_VARINT)).uint32(cpu);
    return w;
  }

  #close(): Uint8Array {
    return this.#w.ldelim().ldelim().finish();
  }

  #switches(b: v1.ISchedSwitchBatch): Uint8Array | undefined {
    const n = b.tsDeltaNs?.length ?? 0;
    if (n === 0) return undefined;
    const w = this.#open(b.cpu ?? 0);
    let ts = longToBigInt(b.baseTsNs);
    for (let i = 0; i < n; i++) {
      ts += longToBigInt(b.tsDeltaNs?.[i]);
      const prev = b.prevTid?.[i] ?? 0;
      const next = b.nextTid?.[i] ?? 0;
      const prevComm = prev === 0 ? `swapper/${b.cpu ?? 0}` : this.#threadNames.get(prev);
      const nextComm = this.#strings.get(b.nextCommIid?.[i] ?? 0) ?? this.#threadNames.get(next);
      w.uint32(tag(F.FtraceEventBundle.event, WIRE_LEN)).fork();
      w.uint32(tag(F.FtraceEvent.timestamp, WIRE_VARINT)).uint64Big(ts);
      w.uint32(tag(F.FtraceEvent.pid, WIRE_VARINT)).uint32(prev);
      w.uint32(tag(F.FtraceEvent.sched_switch, WIRE_LEN)).fork();
      if (prevComm !== undefined) w.uint32(tag(F.SchedSwitchFtraceEvent.prev_comm, WIRE_LEN)).string(prevComm);
      w.uint32(tag(F.SchedSwitchFtraceEvent.prev_pid, WIRE_VARINT)).int32(prev);
      w.uint32(tag(F.SchedSwitchFtraceEvent.prev_state, WIRE_VARINT)).int64(reportedPrevState(longToSignedBigInt(b.prevState?.[i])));
      if (nextComm !== undefined) w.uint32(tag(F.SchedSwitchFtraceEvent.next_comm, WIRE_LEN)).string(nextComm);
      w.uint32(tag(F.SchedSwitchFtraceEvent.next_pid, WIRE_VARINT)).int32(next);
      w.uint32(tag(F.SchedSwitchFtraceEvent.next_prio, WIRE_VARINT)).int32(b.nextPrio?.[i] ?? 0);
      w.ldelim().ldelim();
      this.events++;
    }
    return this.#close();
  }

  #wakeups(b: v1.ISchedWakeupBatch): Uint8Array | undefined {
    const n = b.tsDeltaNs?.length ?? 0;
    if (n === 0) return undefined;
    const w = this.#open(b.cpu ?? 0);
    let ts = longToBigInt(b.baseTsNs);
    for (let i = 0; i < n; i++) {
      ts += longToBigInt(b.tsDeltaNs?.[i]);
      const tid = b.tid?.[i] ?? 0;
      const comm = this.#threadNames.get(tid);
      w.uint32(tag(F.FtraceEventBundle.event, WIRE_LEN)).fork();
      w.uint32(tag(F.FtraceEvent.timestamp, WIRE_VARINT)).uint64Big(ts);
      w.uint32(tag(F.FtraceEvent.pid, WIRE_VARINT)).uint32(b.wakerTid?.[i] ?? 0);
      w.uint32(tag(F.FtraceEvent.sched_waking, WIRE_LEN)).fork();
      if (comm !== undefined) w.uint32(tag(F.SchedWakingFtraceEvent.comm, WIRE_LEN)).string(comm);
      w.uint32(tag(F.SchedWakingFtraceEvent.pid, WIRE_VARINT)).int32(tid);
      w.uint32(tag(F.SchedWakingFtraceEvent.success, WIRE_VARINT)).int32(1);
      w.uint32(tag(F.SchedWakingFtraceEvent.target_cpu, WIRE_VARINT)).int32(b.targetCpu?.[i] ?? 0);
      w.ldelim().ldelim();
      this.events++;
    }
    return this.#close();
  }
}
