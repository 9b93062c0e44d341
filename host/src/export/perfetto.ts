// perfetto.ts: ProfInfer packets to a native Perfetto trace (protobuf
// perfetto.protos.Trace), streamed: chunks of whole TracePackets come out
// while packets go in. The schema is ./perfetto_protos (field numbers from
// there); encoding writes fields straight into bytes (proto_writer.ts), no
// message objects.
//
// Layout: one process track per engine process, one thread track per thread,
// token (llama_decode) ⊃ graph ⊃ node slices as TYPE_SLICE_BEGIN / END pairs
// on the thread that ran them, and counter tracks (tokens/s per call, QoS,
// lost events). Every string that repeats is interned on the single packet
// sequence: slice names (event_names), argument keys (debug_annotation_names)
// and argument strings such as op, type, shape and tensor name
// (debug_annotation_string_values).
//
// Timestamps are CLOCK_MONOTONIC ns as recorded, written on the trace's default
// clock (Perfetto shows them relative to the first event).
import type { v1 } from '../proto.js';
import { ProtoWriter, varintSize } from './proto_writer.js';
import { SchedFtraceEncoder } from './sched_ftrace.js';
import { ChildOrdering, CounterUnit, F, SequenceFlags, TrackEventType } from './perfetto_protos/index.js';
import {
  type CounterTrack,
  type FlatArgs,
  type ProcessTrack,
  type Slice,
  type ThreadTrack,
  type TimelineOptions,
  type TimelineSink,
  type TimelineStats,
  runTimeline,
  streamTimeline,
} from './timeline.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const tag = (field: number, wire: number): number => ((field << 3) | wire) >>> 0;

// Tags of the fields written per slice edge, computed once.
const T_PACKET = tag(F.Trace.packet, WIRE_LEN);
const T_TIMESTAMP = tag(F.TracePacket.timestamp, WIRE_VARINT);
const T_SEQUENCE_ID = tag(F.TracePacket.trusted_packet_sequence_id, WIRE_VARINT);
const T_FLAGS = tag(F.TracePacket.sequence_flags, WIRE_VARINT);
const T_TRACK_EVENT = tag(F.TracePacket.track_event, WIRE_LEN);
const T_TYPE = tag(F.TrackEvent.type, WIRE_VARINT);
const T_TRACK_UUID = tag(F.TrackEvent.track_uuid, WIRE_VARINT);
const T_NAME_IID = tag(F.TrackEvent.name_iid, WIRE_VARINT);
const T_ANNOTATION = tag(F.TrackEvent.debug_annotations, WIRE_LEN);
const T_ANN_NAME_IID = tag(F.DebugAnnotation.name_iid, WIRE_VARINT);
const T_ANN_STRING_IID = tag(F.DebugAnnotation.string_value_iid, WIRE_VARINT);
const T_ANN_BOOL = tag(F.DebugAnnotation.bool_value, WIRE_VARINT);
const T_ANN_INT = tag(F.DebugAnnotation.int_value, WIRE_VARINT);
const T_ANN_DOUBLE = tag(F.DebugAnnotation.double_value, WIRE_FIXED64);
// #args() sizes annotations by these tag lengths.
if (varintSize(T_ANN_NAME_IID) !== 1 || varintSize(T_ANN_STRING_IID) !== 2 || varintSize(T_ANN_BOOL) !== 1 ||
    varintSize(T_ANN_INT) !== 1 || varintSize(T_ANN_DOUBLE) !== 1) {
  throw new Error('perfetto export: DebugAnnotation tag sizes differ from what #args() assumes');
}

/** The one packet sequence this exporter writes. */
const SEQUENCE_ID = 1;
/** A chunk is handed out once it holds this many bytes. */
const CHUNK_BYTES = 1 << 20;

// Track uuids are small serials (1, 2, ...), given out as tracks appear: every
// slice edge carries one, and a one-byte varint keeps the file small.

export interface PerfettoExportStats extends TimelineStats {
  /** Slices whose end was cut to their parent's end to keep the nesting Perfetto needs. */
  clampedSlices: number;
  slices: number;
  bytes: number;
}

type InternTable = 'event_names' | 'debug_annotation_names' | 'debug_annotation_string_values';

/** Timeline sink that writes Perfetto TracePackets into byte chunks. */
export class PerfettoWriter implements TimelineSink {
  readonly stats = { clampedSlices: 0, slices: 0, bytes: 0 };
  #w = new ProtoWriter();
  #packets = 0;
  readonly #chunks: Uint8Array[] = [];
  readonly #origin: () => bigint;
  #originNs: bigint | undefined;
  readonly #interned: Record<InternTable, Map<string, number>> = {
    event_names: new Map(),
    debug_annotation_names: new Map(),
    debug_annotation_string_values: new Map(),
  };
  /** Strings interned by the packet being written, to go in its interned_data. */
  #newInterned: { table: InternTable; iid: number; value: string }[] = [];
  readonly #counterUuids = new Map<string, number>();
  readonly #processUuids = new Map<number, number>();
  readonly #threadUuids = new Map<string, number>();
  #sessionUuid = 0;
  #lastUuid = 0;
  /** Encoded debug_annotations of Slice.fixed arrays (interned ids are stable for the whole sequence). */
  readonly #fixed = new WeakMap<FlatArgs, Uint8Array>();

  /** origin: the Timeline's originNs (added back to every timestamp). */
  constructor(origin: () => bigint) {
    this.#origin = origin;
    // The first packet clears the sequence's incremental state (the interning tables).
    const w = this.#beginPacket(undefined, SequenceFlags.INCREMENTAL_STATE_CLEARED | SequenceFlags.NEEDS_INCREMENTAL_STATE);
    w.uint32(tag(F.TracePacket.first_packet_on_sequence, WIRE_VARINT)).bool(true);
    this.#endPacket();
  }

  process(p: ProcessTrack): void {
    const w = this.#beginPacket(undefined, 0);
    w.uint32(tag(F.TracePacket.track_descriptor, WIRE_LEN)).fork();
    w.uint32(tag(F.TrackDescriptor.uuid, WIRE_VARINT)).uint64(this.#processUuid(p.pid));
    w.uint32(tag(F.TrackDescriptor.process, WIRE_LEN)).fork();
    w.uint32(tag(F.ProcessDescriptor.pid, WIRE_VARINT)).int32(p.pid);
    for (const a of p.cmdline) w.uint32(tag(F.ProcessDescriptor.cmdline, WIRE_LEN)).string(a);
    w.uint32(tag(F.ProcessDescriptor.process_name, WIRE_LEN)).string(p.name);
    w.ldelim();
    w.ldelim();
    this.#endPacket();
  }

  thread(t: ThreadTrack): void {
    const w = this.#beginPacket(undefined, 0);
    w.uint32(tag(F.TracePacket.track_descriptor, WIRE_LEN)).fork();
    // No parent_uuid: trace processor joins a thread track to its process by
    // ThreadDescriptor.pid (and ignores parent_uuid when `thread` is set).
    w.uint32(tag(F.TrackDescriptor.uuid, WIRE_VARINT)).uint64(this.#threadUuid(t.pid, t.tid));
    w.uint32(tag(F.TrackDescriptor.thread, WIRE_LEN)).fork();
    w.uint32(tag(F.ThreadDescriptor.pid, WIRE_VARINT)).int32(t.pid);
    w.uint32(tag(F.ThreadDescriptor.tid, WIRE_VARINT)).int64(t.tid);
    if (t.name) w.uint32(tag(F.ThreadDescriptor.thread_name, WIRE_LEN)).string(t.name);
    w.ldelim();
    w.ldelim();
    this.#endPacket();
  }

  counterTrack(c: CounterTrack): void {
    if (c.pid === undefined && this.#sessionUuid === 0) {
      this.#sessionUuid = ++this.#lastUuid;
      const w = this.#beginPacket(undefined, 0);
      w.uint32(tag(F.TracePacket.track_descriptor, WIRE_LEN)).fork();
      w.uint32(tag(F.TrackDescriptor.uuid, WIRE_VARINT)).uint64(this.#sessionUuid);
      w.uint32(tag(F.TrackDescriptor.name, WIRE_LEN)).string('ProfInfer session');
      w.uint32(tag(F.TrackDescriptor.child_ordering, WIRE_VARINT)).uint32(ChildOrdering.LEXICOGRAPHIC);
      w.ldelim();
      this.#endPacket();
    }
    const parent = c.pid === undefined ? this.#sessionUuid : this.#processUuid(c.pid);
    const uuid = ++this.#lastUuid;
    this.#counterUuids.set(c.id, uuid);
    const w = this.#beginPacket(undefined, 0);
    w.uint32(tag(F.TracePacket.track_descriptor, WIRE_LEN)).fork();
    w.uint32(tag(F.TrackDescriptor.uuid, WIRE_VARINT)).uint64(uuid);
    w.uint32(tag(F.TrackDescriptor.parent_uuid, WIRE_VARINT)).uint64(parent);
    w.uint32(tag(F.TrackDescriptor.name, WIRE_LEN)).string(c.name);
    w.uint32(tag(F.TrackDescriptor.counter, WIRE_LEN)).fork();
    if (c.unit === 'ns') w.uint32(tag(F.CounterDescriptor.unit, WIRE_VARINT)).uint32(CounterUnit.TIME_NS);
    else w.uint32(tag(F.CounterDescriptor.unit_name, WIRE_LEN)).string(c.unit);
    w.ldelim();
    w.ldelim();
    this.#endPacket();
  }

  counter(trackId: string, ts: number, value: number): void {
    const uuid = this.#counterUuids.get(trackId);
    if (uuid === undefined) throw new Error(`perfetto export: counter track ${trackId} used before its descriptor`);
    const w = this.#beginPacket(ts, 0);
    w.uint32(tag(F.TracePacket.track_event, WIRE_LEN)).fork();
    w.uint32(tag(F.TrackEvent.type, WIRE_VARINT)).uint32(TrackEventType.COUNTER);
    w.uint32(tag(F.TrackEvent.track_uuid, WIRE_VARINT)).uint64(uuid);
    w.uint32(tag(F.TrackEvent.double_counter_value, WIRE_FIXED64)).double(value);
    w.ldelim();
    this.#endPacket();
  }

  slices(pid: number, tid: number, slices: readonly Slice[]): void {
    const track = this.#threadUuid(pid, tid);
    const open: number[] = []; // end times of the open slices, innermost last
    for (const s of slices) {
      while (open.length > 0 && (open[open.length - 1] as number) <= s.start) this.#end(track, open.pop() as number);
      let end = s.end;
      const parentEnd = open[open.length - 1];
      if (parentEnd !== undefined && end > parentEnd) {
        end = parentEnd;
        this.stats.clampedSlices++;
      }
      this.#begin(track, s);
      open.push(end);
    }
    while (open.length > 0) this.#end(track, open.pop() as number);
  }

  #processUuid(pid: number): number {
    let uuid = this.#processUuids.get(pid);
    if (uuid === undefined) this.#processUuids.set(pid, (uuid = ++this.#lastUuid));
    return uuid;
  }

  #threadUuid(pid: number, tid: number): number {
    const key = `${pid}:${tid}`;
    let uuid = this.#threadUuids.get(key);
    if (uuid === undefined) this.#threadUuids.set(key, (uuid = ++this.#lastUuid));
    return uuid;
  }

  /** Completed chunks since the last call (call finish() first at the end). */
  take(): Uint8Array[] {
    return this.#chunks.splice(0);
  }

  finish(): void {
    this.#cut();
  }

  #begin(track: number, s: Slice): void {
    this.stats.slices++;
    const w = this.#beginPacket(s.start, SequenceFlags.NEEDS_INCREMENTAL_STATE);
    w.uint32(T_TRACK_EVENT).fork();
    w.uint32(T_TYPE).uint32(TrackEventType.SLICE_BEGIN);
    w.uint32(T_TRACK_UUID).uint64(track);
    w.uint32(T_NAME_IID).uint32(this.#intern('event_names', s.name));
    if (s.fixed !== undefined) {
      let encoded = this.#fixed.get(s.fixed);
      if (encoded === undefined) {
        const scratch = new ProtoWriter(256);
        this.#args(scratch, s.fixed);
        this.#fixed.set(s.fixed, (encoded = scratch.finish()));
      }
      w.raw(encoded);
    }
    this.#args(w, s.args);
    for (const id of s.flowOut ?? []) w.uint32(tag(F.TrackEvent.flow_ids, WIRE_FIXED64)).fixed64(id);
    for (const id of s.flowIn ?? []) w.uint32(tag(F.TrackEvent.terminating_flow_ids, WIRE_FIXED64)).fixed64(id);
    w.ldelim();
    this.#writeInterned(w);
    this.#endPacket();
  }

  #end(track: number, ts: number): void {
    if (this.#originNs === 0n) {
      // The most frequent packet, framed without fork(): every length is known.
      //   TracePacket { timestamp: ts  trusted_packet_sequence_id: 1
      //                 track_event { type: TYPE_SLICE_END  track_uuid: track } }
      const event = 2 + 1 + varintSize(track);
      const w = this.#w;
      w.uint32(T_PACKET).uint32(1 + varintSize(ts) + 2 + 2 + event);
      w.uint32(T_TIMESTAMP).uint64(ts).uint32(T_SEQUENCE_ID).uint32(SEQUENCE_ID);
      w.uint32(T_TRACK_EVENT).uint32(event).uint32(T_TYPE).uint32(TrackEventType.SLICE_END).uint32(T_TRACK_UUID).uint64(track);
      this.#packets++;
      if (w.len >= CHUNK_BYTES) this.#cut();
      return;
    }
    const w = this.#beginPacket(ts, 0);
    w.uint32(T_TRACK_EVENT).fork();
    w.uint32(T_TYPE).uint32(TrackEventType.SLICE_END);
    w.uint32(T_TRACK_UUID).uint64(track);
    w.ldelim();
    this.#endPacket();
  }

  #args(w: ProtoWriter, args: FlatArgs): void {
    // Each annotation is two fields; its length is known up front (no fork()).
    for (let i = 0; i + 1 < args.length; i += 2) {
      const value = args[i + 1];
      const nameIid = this.#intern('debug_annotation_names', args[i] as string);
      const head = 2 + varintSize(nameIid); // name tag + value tag (one byte each, string_value_iid's two)
      w.uint32(T_ANNOTATION);
      if (typeof value === 'string') {
        const iid = this.#intern('debug_annotation_string_values', value);
        w.uint32(head + 1 + varintSize(iid)).uint32(T_ANN_NAME_IID).uint32(nameIid).uint32(T_ANN_STRING_IID).uint32(iid);
      } else if (typeof value === 'boolean') {
        w.uint32(head + 1).uint32(T_ANN_NAME_IID).uint32(nameIid).uint32(T_ANN_BOOL).bool(value);
      } else if (Number.isInteger(value) && (value as number) >= 0) {
        w.uint32(head + varintSize(value as number)).uint32(T_ANN_NAME_IID).uint32(nameIid).uint32(T_ANN_INT).uint64(value as number);
      } else if (Number.isInteger(value)) {
        w.uint32(head + 10).uint32(T_ANN_NAME_IID).uint32(nameIid).uint32(T_ANN_INT).int64(value as number);
      } else {
        w.uint32(head + 8).uint32(T_ANN_NAME_IID).uint32(nameIid).uint32(T_ANN_DOUBLE).double(value as number);
      }
    }
  }

  #intern(table: InternTable, value: string): number {
    const map = this.#interned[table];
    let iid = map.get(value);
    if (iid === undefined) {
      iid = map.size + 1;
      map.set(value, iid);
      this.#newInterned.push({ table, iid, value });
    }
    return iid;
  }

  #writeInterned(w: ProtoWriter): void {
    if (this.#newInterned.length === 0) return;
    w.uint32(tag(F.TracePacket.interned_data, WIRE_LEN)).fork();
    for (const e of this.#newInterned) {
      w.uint32(tag(F.InternedData[e.table], WIRE_LEN)).fork();
      w.uint32(tag(F.Interned.iid, WIRE_VARINT)).uint32(e.iid);
      // EventName / DebugAnnotationName: string name = 2; InternedString: bytes str = 2.
      w.uint32(tag(F.Interned.name, WIRE_LEN)).string(e.value);
      w.ldelim();
    }
    w.ldelim();
    this.#newInterned = [];
  }

  /** Opens Trace.packet; timestamp is ns since the origin (undefined: none). */
  #beginPacket(ts: number | undefined, flags: number): ProtoWriter {
    const w = this.#w;
    w.uint32(T_PACKET).fork();
    if (ts !== undefined) {
      // The timeline fixes its origin before it draws anything with a time.
      if (this.#originNs === undefined) this.#originNs = this.#origin();
      w.uint32(T_TIMESTAMP);
      if (this.#originNs === 0n) w.uint64(ts);
      else w.uint64Big(this.#originNs + BigInt(ts));
    }
    w.uint32(T_SEQUENCE_ID).uint32(SEQUENCE_ID);
    if (flags !== 0) w.uint32(T_FLAGS).uint32(flags);
    return w;
  }

  #endPacket(): void {
    this.#w.ldelim();
    this.#packets++;
    if (this.#w.len >= CHUNK_BYTES) this.#cut();
  }

  #cut(): void {
    if (this.#w.len === 0) return;
    const chunk = this.#w.finish();
    this.stats.bytes += chunk.length;
    this.#chunks.push(chunk);
  }
}

/**
 * Streams a Perfetto trace: chunks of Trace bytes (concatenated, they are one
 * perfetto.protos.Trace). `stats` is filled in at the end.
 */
export async function* exportPerfetto(
  packets: AsyncIterable<v1.ITracePacket> | Iterable<v1.ITracePacket>,
  stats?: (s: PerfettoExportStats) => void,
  options: TimelineOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  // Scheduler batches become ftrace events beside the timeline (sched_ftrace.ts).
  const sched = new SchedFtraceEncoder();
  const schedChunks: Uint8Array[] = [];
  async function* tap(): AsyncGenerator<v1.ITracePacket> {
    for await (const p of packets) {
      const bytes = sched.add(p);
      if (bytes) schedChunks.push(bytes);
      yield p;
    }
  }
  for await (const chunk of streamTimeline(tap(), (origin) => new PerfettoWriter(origin), options, stats)) {
    yield* schedChunks.splice(0);
    yield chunk;
  }
  yield* schedChunks.splice(0);
}

/** The whole Perfetto trace of packets held in memory (tests, small traces). */
export function toPerfetto(
  packets: Iterable<v1.ITracePacket>,
  options: TimelineOptions = {},
): { bytes: Uint8Array; stats: PerfettoExportStats } {
  const sched = new SchedFtraceEncoder();
  const schedChunks: Uint8Array[] = [];
  const tapped = [...packets].map((p) => {
    const bytes = sched.add(p);
    if (bytes) schedChunks.push(bytes);
    return p;
  });
  const { chunks, stats } = runTimeline(tapped, (origin) => new PerfettoWriter(origin), options);
  return { bytes: concat([...chunks, ...schedChunks]), stats };
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
