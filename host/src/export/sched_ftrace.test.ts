import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { v1 } from '../proto.js';
import { checkPerfettoTrace } from './perfetto_check.js';
import { exportPerfetto, concat, toPerfetto } from './perfetto.js';
import { reportedPrevState, SchedFtraceEncoder } from './sched_ftrace.js';

// The upstream messages this file writes, with their upstream field numbers
// (protos/perfetto/trace/ftrace/*.proto), as an independent reader.
const root = protobuf.parse(`
syntax = "proto2";
message Trace { repeated TracePacket packet = 1; }
message TracePacket { optional FtraceEventBundle ftrace_events = 1; }
message FtraceEventBundle { optional uint32 cpu = 1; repeated FtraceEvent event = 2; }
message FtraceEvent {
  optional uint64 timestamp = 1;
  optional uint32 pid = 2;
  oneof event { SchedSwitchFtraceEvent sched_switch = 4; SchedWakingFtraceEvent sched_waking = 20; }
}
message SchedSwitchFtraceEvent {
  optional string prev_comm = 1; optional int32 prev_pid = 2; optional int32 prev_prio = 3; optional int64 prev_state = 4;
  optional string next_comm = 5; optional int32 next_pid = 6; optional int32 next_prio = 7;
}
message SchedWakingFtraceEvent {
  optional string comm = 1; optional int32 pid = 2; optional int32 prio = 3; optional int32 success = 4; optional int32 target_cpu = 5;
}`).root;
const Trace = root.lookupType('Trace');

const IID = 1 << 30;
const BASE = 9_000_000_000_000; // above 2^32: 64-bit timestamps must stay exact
const packets: v1.ITracePacket[] = [
  { session: { targetPids: [100] } },
  { thread: { pid: 100, tid: 100, name: 'llama-cli' } },
  { interned: { strings: [{ iid: IID + 1, str: 'hog' }, { iid: IID + 2, str: 'llama-cli' }] } },
  {
    schedSwitch: {
      cpu: 1,
      baseTsNs: BASE,
      tsDeltaNs: [0, 250, 1000],
      prevTid: [100, 500, 100],
      prevState: [0, 0, 0x2001],
      nextTid: [500, 100, 0],
      nextPrio: [120, 120, 120],
      nextCommIid: [IID + 1, IID + 2, 0],
    } as unknown as v1.ISchedSwitchBatch,
  },
  {
    schedWakeup: { cpu: 0, baseTsNs: BASE + 5000, tsDeltaNs: [0], tid: [100], targetCpu: [1], wakerTid: [7] } as unknown as v1.ISchedWakeupBatch,
  },
];

interface Decoded {
  packet: { ftraceEvents?: { cpu: number; event: Record<string, unknown>[] } }[];
}
const decode = (bytes: Uint8Array): Decoded =>
  Trace.toObject(Trace.decode(bytes), { longs: Number, defaults: false }) as unknown as Decoded;

describe('SchedFtraceEncoder', () => {
  it('writes one FtraceEventBundle per batch with full sched_switch / sched_waking events', () => {
    const enc = new SchedFtraceEncoder();
    const chunks = packets.map((p) => enc.add(p)).filter((b): b is Uint8Array => b !== undefined);
    expect(chunks.length).toBe(2);
    const t = decode(concat(chunks));
    const [sw, wk] = t.packet.map((p) => p.ftraceEvents);
    expect(sw?.cpu).toBe(1);
    expect(sw?.event).toEqual([
      { timestamp: BASE, pid: 100, schedSwitch: { prevComm: 'llama-cli', prevPid: 100, prevState: 0, nextComm: 'hog', nextPid: 500, nextPrio: 120 } },
      // prev 500 is no target: its name was not recorded and is left out.
      { timestamp: BASE + 250, pid: 500, schedSwitch: { prevPid: 500, prevState: 0, nextComm: 'llama-cli', nextPid: 100, nextPrio: 120 } },
      // S | TASK_FREEZABLE reads as S; the idle task's name comes from the thread table (none): left out.
      { timestamp: BASE + 1250, pid: 100, schedSwitch: { prevComm: 'llama-cli', prevPid: 100, prevState: 1, nextPid: 0, nextPrio: 120 } },
    ]);
    expect(wk?.cpu).toBe(0);
    expect(wk?.event).toEqual([{ timestamp: BASE + 5000, pid: 7, schedWaking: { comm: 'llama-cli', pid: 100, success: 1, targetCpu: 1 } }]);
    expect(enc.events).toBe(4);
  });

  it('maps kernel task states to the reported ones', () => {
    expect(reportedPrevState(0n)).toBe(0); // preempted: R
    expect(reportedPrevState(1n)).toBe(1); // S
    expect(reportedPrevState(0x2001n)).toBe(1); // S | FREEZABLE
    expect(reportedPrevState(2n)).toBe(2); // D
    expect(reportedPrevState(0x402n)).toBe(2); // TASK_IDLE (D | NOLOAD)
    expect(reportedPrevState(0x80n)).toBe(0x10); // TASK_DEAD: X
    expect(reportedPrevState(0x400n)).toBe(1);
  });

  it('rides along in the Perfetto export, which stays valid', async () => {
    const mem = toPerfetto(packets).bytes;
    checkPerfettoTrace(mem); // throws on damage
    const withSched = decode(mem).packet.filter((p) => p.ftraceEvents);
    expect(withSched.length).toBe(2);
    const chunks: Uint8Array[] = [];
    for await (const c of exportPerfetto(packets)) chunks.push(c);
    expect(decode(concat(chunks)).packet.filter((p) => p.ftraceEvents).length).toBe(2);
  });
});
