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
  type ProcessSliceTrack,
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
const T_FLOW_ID = tag(F.TrackEvent.flow_ids, WIRE_FIXED64);
const T_TERMINATING_FLOW_ID = tag(F.TrackEvent.terminating_flow_ids, WIRE_FIXED64);
// #begin() frames its packet by these tag lengths.
if (varintSize(T_PACKET) !== 1 || varintSize(T_TIMESTAMP) !== 1 || varintSize(T_SEQUENCE_ID) !== 1 || varintSize(T_FLAGS) !== 1 ||
    varintSize(T_TRACK_EVENT) !== 1 || varintSize(T_TYPE) !== 1 || varintSize(T_TRACK_UUID) !== 1 || varintSize(T_NAME_IID) !== 1) {
  throw new Error('perfetto export: TracePacket / TrackEvent tag sizes differ from what #begin() assumes');
}
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
  readonly #sliceTrackUuids = new Map<string, number>();
  #sessionUuid = 0;
  #lastUuid = 0;
  /**
   * Encoded debug_annotations of Slice.fixed arrays (interned ids are stable
   * for the whole sequence), with the last slice name seen with them and its
   * iid: a node's slices keep their name, so most slices skip a lookup.
   */
  readonly #fixed = new WeakMap<FlatArgs, FixedArgs>();
  /** Slice.shared comes for a batch's slices one after another: the last one's encoding. */
  #lastShared: FlatArgs | undefined;
  #lastSharedBytes: Uint8Array = new Uint8Array(0);
  /** A slice's own args and flows, encoded before its packet so the packet's lengths are known up front. */
  readonly #scratch = new ProtoWriter(1 << 12);
  /** The annotation name iid last used at each argument position: keys repeat by position, compared by identity. */
  readonly #keyAt: (string | undefined)[] = [];
  readonly #keyIidAt: number[] = [];

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
    // Per-thread counters sit under their thread track (described before them).
    const parent =
      c.pid === undefined ? this.#sessionUuid : c.tid === undefined ? this.#processUuid(c.pid) : this.#threadUuid(c.pid, c.tid);
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

  sliceTrack(t: ProcessSliceTrack): void {
    const uuid = ++this.#lastUuid;
    this.#sliceTrackUuids.set(t.id, uuid);
    const w = this.#beginPacket(undefined, 0);
    w.uint32(tag(F.TracePacket.track_descriptor, WIRE_LEN)).fork();
    w.uint32(tag(F.TrackDescriptor.uuid, WIRE_VARINT)).uint64(uuid);
    w.uint32(tag(F.TrackDescriptor.parent_uuid, WIRE_VARINT)).uint64(this.#processUuid(t.pid));
    w.uint32(tag(F.TrackDescriptor.name, WIRE_LEN)).string(t.name);
    if (t.rank >= 0) w.uint32(tag(F.TrackDescriptor.sibling_order_rank, WIRE_VARINT)).int32(t.rank);
    w.ldelim();
    this.#endPacket();
  }

  trackSlices(trackId: string, slices: readonly Slice[]): void {
    const uuid = this.#sliceTrackUuids.get(trackId);
    if (uuid === undefined) throw new Error(`perfetto export: slice track ${trackId} used before its descriptor`);
    this.#trackSlices(uuid, slices);
  }

  slices(pid: number, tid: number, slices: readonly Slice[]): void {
    this.#trackSlices(this.#threadUuid(pid, tid), slices);
  }

  #trackSlices(track: number, slices: readonly Slice[]): void {
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
    let nameIid: number;
    let fixed: Uint8Array | undefined;
    if (s.fixed !== undefined) {
      let f = this.#fixed.get(s.fixed);
      if (f === undefined) {
        const scratch = new ProtoWriter(256);
        this.#args(scratch, s.fixed, 0);
        this.#fixed.set(s.fixed, (f = { bytes: scratch.finish(), name: s.name, nameIid: this.#intern('event_names', s.name) }));
      } else if (f.name !== s.name) {
        f.name = s.name;
        f.nameIid = this.#intern('event_names', s.name);
      }
      nameIid = f.nameIid;
      fixed = f.bytes;
    } else {
      nameIid = this.#intern('event_names', s.name);
    }
    if (s.shared !== undefined && s.shared !== this.#lastShared) {
      this.#lastShared = s.shared;
      this.#args(this.#scratch, s.shared, 0);
      this.#lastSharedBytes = this.#scratch.finish();
    }
    const shared = s.shared === undefined ? undefined : this.#lastSharedBytes;
    // The slice's own args and flows go to the scratch writer first.
    const a = this.#scratch;
    this.#args(a, s.args, 1);
    if (s.flowOut !== undefined) for (const id of s.flowOut) a.uint32(T_FLOW_ID).fixed64(id);
    if (s.flowIn !== undefined) for (const id of s.flowIn) a.uint32(T_TERMINATING_FLOW_ID).fixed64(id);

    if (this.#newInterned.length === 0 && this.#originNs === 0n) {
      // The common case, framed without fork(): every length is known.
      //   TracePacket { timestamp  trusted_packet_sequence_id: 1  sequence_flags: NEEDS_INCREMENTAL_STATE
      //                 track_event { type: SLICE_BEGIN  track_uuid  name_iid  debug_annotations...  flow ids... } }
      const event =
        2 + 1 + varintSize(track) + 1 + varintSize(nameIid) + (fixed?.length ?? 0) + (shared?.length ?? 0) + a.len;
      const ts = s.start;
      const w = this.#w;
      const packet = 1 + varintSize(ts) + 2 + 2 + 1 + varintSize(event) + event;
      w.reserve(1 + varintSize(packet) + packet - event + 2 + 1 + 10 + 1 + 10);
      w.u8(T_PACKET).varint(packet);
      w.u8(T_TIMESTAMP).varint(ts).u8(T_SEQUENCE_ID).u8(SEQUENCE_ID).u8(T_FLAGS).u8(SequenceFlags.NEEDS_INCREMENTAL_STATE);
      w.u8(T_TRACK_EVENT).varint(event).u8(T_TYPE).u8(TrackEventType.SLICE_BEGIN);
      w.u8(T_TRACK_UUID).varint(track).u8(T_NAME_IID).varint(nameIid);
      if (fixed !== undefined) w.raw(fixed);
      if (shared !== undefined) w.raw(shared);
      w.drain(a);
      this.#packets++;
      if (w.len >= CHUNK_BYTES) this.#cut();
      return;
    }
    const w = this.#beginPacket(s.start, SequenceFlags.NEEDS_INCREMENTAL_STATE);
    w.uint32(T_TRACK_EVENT).fork();
    w.uint32(T_TYPE).uint32(TrackEventType.SLICE_BEGIN);
    w.uint32(T_TRACK_UUID).uint64(track);
    w.uint32(T_NAME_IID).uint32(nameIid);
    if (fixed !== undefined) w.raw(fixed);
    if (shared !== undefined) w.raw(shared);
    w.drain(a);
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
      const packet = 1 + varintSize(ts) + 2 + 2 + event;
      w.reserve(1 + varintSize(packet) + packet);
      w.u8(T_PACKET).varint(packet);
      w.u8(T_TIMESTAMP).varint(ts).u8(T_SEQUENCE_ID).u8(SEQUENCE_ID);
      w.u8(T_TRACK_EVENT).varint(event).u8(T_TYPE).u8(TrackEventType.SLICE_END).u8(T_TRACK_UUID).varint(track);
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

  /** cacheKeys: remember each position's key and iid (a slice's own args, whose keys repeat by position). */
  #args(w: ProtoWriter, args: FlatArgs, cacheKeys: 0 | 1): void {
    // Each annotation is two fields; its length is known up front (no fork()).
    for (let i = 0; i + 1 < args.length; i += 2) {
      const value = args[i + 1];
      const key = args[i] as string;
      let nameIid: number;
      if (cacheKeys === 1 && this.#keyAt[i] === key) nameIid = this.#keyIidAt[i] as number;
      else {
        nameIid = this.#intern('debug_annotation_names', key);
        if (cacheKeys === 1) {
          this.#keyAt[i] = key;
          this.#keyIidAt[i] = nameIid;
        }
      }
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

interface FixedArgs {
  readonly bytes: Uint8Array;
  name: string;
  nameIid: number;
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
