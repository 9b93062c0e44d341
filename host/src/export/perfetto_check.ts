// perfetto_check.ts: reads an exported Perfetto trace back with our schema
// (perfetto_protos) the way trace processor would, and fails loudly on what it
// would reject or misdraw: an interned id used before it is defined, an event
// on a track with no descriptor, an END with no open slice, a slice left open.
// Gives back the slices (with depth, parent and resolved arguments) and
// counters, so tests compare them with the source trace.
import { TrackEventType, decodePerfettoTrace, type PerfettoPacket } from './perfetto_protos/index.js';

export interface CheckedSlice {
  readonly track: string;
  readonly pid: number | undefined;
  readonly tid: number | undefined;
  readonly name: string;
  /** ns, as written (bigint: exact). */
  readonly start: bigint;
  end: bigint;
  readonly depth: number;
  readonly parent: CheckedSlice | undefined;
  readonly args: Readonly<Record<string, string | number | boolean>>;
  /** Flow ids (decimal) starting / ending here. */
  readonly flowOut: readonly string[];
  readonly flowIn: readonly string[];
}

export interface CheckedCounter {
  readonly track: string;
  readonly name: string;
  readonly ts: bigint;
  readonly value: number;
}

export interface CheckedTrack {
  readonly uuid: string;
  readonly parent: string | undefined;
  readonly name: string | undefined;
  readonly pid: number | undefined;
  readonly tid: number | undefined;
  readonly counter: boolean;
}

export interface CheckedTrace {
  readonly packets: number;
  readonly tracks: ReadonlyMap<string, CheckedTrack>;
  readonly slices: readonly CheckedSlice[];
  readonly counters: readonly CheckedCounter[];
}

export class PerfettoCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** Decodes and checks a Perfetto trace written by perfetto.ts. */
export function checkPerfettoTrace(bytes: Uint8Array): CheckedTrace {
  const packets = decodePerfettoTrace(bytes);
  const fail = (i: number, why: string): never => {
    throw new PerfettoCheckError(`packet ${i}: ${why}`);
  };
  const names = new Map<string, string>();
  const argNames = new Map<string, string>();
  const argStrings = new Map<string, string>();
  const tracks = new Map<string, CheckedTrack>();
  const processOf = new Map<string, number>();
  const counters: CheckedCounter[] = [];
  let cleared = false;

  interface Edge {
    readonly i: number;
    readonly ts: bigint;
    readonly p: PerfettoPacket;
  }
  const edges: Edge[] = [];

  packets.forEach((p, i) => {
    if (p.trusted_packet_sequence_id !== 1) fail(i, `sequence id ${p.trusted_packet_sequence_id}, expected 1`);
    if (((p.sequence_flags ?? 0) & 1) !== 0) {
      cleared = true;
      names.clear();
      argNames.clear();
      argStrings.clear();
    }
    if (i === 0 && !cleared) fail(i, 'the first packet does not clear incremental state');
    const interned = p.interned_data;
    for (const e of interned?.event_names ?? []) define(names, i, 'event_names', e.iid, e.name);
    for (const e of interned?.debug_annotation_names ?? []) define(argNames, i, 'debug_annotation_names', e.iid, e.name);
    for (const e of interned?.debug_annotation_string_values ?? [])
      define(argStrings, i, 'debug_annotation_string_values', e.iid, e.str === undefined ? undefined : new TextDecoder().decode(e.str));
    const d = p.track_descriptor;
    if (d !== undefined) {
      const uuid = d.uuid ?? fail(i, 'track descriptor without uuid');
      if (d.parent_uuid !== undefined && !tracks.has(d.parent_uuid)) fail(i, `track ${uuid}: parent ${d.parent_uuid} not described yet`);
      const pid = d.process?.pid ?? d.thread?.pid;
      if (d.process?.pid !== undefined) processOf.set(uuid, d.process.pid);
      tracks.set(uuid, {
        uuid,
        parent: d.parent_uuid,
        name: d.name ?? d.process?.process_name ?? d.thread?.thread_name,
        pid,
        tid: d.thread?.tid === undefined ? undefined : Number(d.thread.tid),
        counter: d.counter !== undefined,
      });
    }
    const e = p.track_event;
    if (e !== undefined) {
      if (p.timestamp === undefined) fail(i, 'track event without timestamp');
      const track = e.track_uuid ?? fail(i, 'track event without track_uuid');
      if (!tracks.has(track)) fail(i, `track event on undescribed track ${track}`);
      if (e.type === TrackEventType.SLICE_BEGIN && (p.sequence_flags ?? 0) === 0)
        fail(i, 'slice begin uses interned data but does not set SEQ_NEEDS_INCREMENTAL_STATE');
      // Resolve interned ids now: later packets may not redefine them, but resolution must work here.
      if (e.name_iid !== undefined && !names.has(e.name_iid)) fail(i, `event name iid ${e.name_iid} is not defined`);
      for (const a of e.debug_annotations ?? []) {
        if (a.name_iid !== undefined && !argNames.has(a.name_iid)) fail(i, `annotation name iid ${a.name_iid} is not defined`);
        if (a.string_value_iid !== undefined && !argStrings.has(a.string_value_iid))
          fail(i, `annotation string iid ${a.string_value_iid} is not defined`);
      }
      if (e.type === TrackEventType.COUNTER) {
        const t = tracks.get(track);
        if (!t?.counter) fail(i, `counter event on non-counter track ${track}`);
        counters.push({ track, name: t?.name ?? '', ts: BigInt(p.timestamp ?? 0), value: e.double_counter_value ?? Number(e.counter_value ?? 0) });
      } else {
        edges.push({ i, ts: BigInt(p.timestamp ?? 0), p: resolve(p, names, argNames, argStrings) });
      }
    }
  });

  // Trace processor sorts by timestamp (stable): nest in that order.
  edges.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.i - b.i));
  const open = new Map<string, CheckedSlice[]>();
  const slices: CheckedSlice[] = [];
  for (const { i, ts, p } of edges) {
    const e = p.track_event as NonNullable<PerfettoPacket['track_event']>;
    const track = e.track_uuid as string;
    const stack = open.get(track) ?? [];
    open.set(track, stack);
    if (e.type === TrackEventType.SLICE_BEGIN) {
      const t = tracks.get(track);
      const parent = stack[stack.length - 1];
      const args: Record<string, string | number | boolean> = {};
      for (const a of e.debug_annotations ?? []) {
        const key = a.name ?? '';
        args[key] =
          a.string_value ?? a.bool_value ?? (a.int_value !== undefined ? Number(a.int_value) : undefined) ??
          (a.uint_value !== undefined ? Number(a.uint_value) : undefined) ?? a.double_value ?? '';
      }
      const s: CheckedSlice = {
        track,
        pid: t?.pid ?? (t?.parent === undefined ? undefined : processOf.get(t.parent)),
        tid: t?.tid,
        name: e.name ?? '',
        start: ts,
        end: -1n,
        depth: stack.length,
        parent,
        args,
        flowOut: e.flow_ids ?? [],
        flowIn: e.terminating_flow_ids ?? [],
      };
      stack.push(s);
      slices.push(s);
    } else if (e.type === TrackEventType.SLICE_END) {
      const s = stack.pop() ?? fail(i, `slice end on track ${track} with no open slice`);
      s.end = ts;
    } else {
      fail(i, `unexpected track event type ${e.type}`);
    }
  }
  for (const [track, stack] of open) {
    if (stack.length > 0) throw new PerfettoCheckError(`track ${track}: ${stack.length} slices never end`);
  }
  return { packets: packets.length, tracks, slices, counters };
}

function define(table: Map<string, string>, i: number, what: string, iid: string | undefined, value: string | undefined): void {
  if (iid === undefined || value === undefined) throw new PerfettoCheckError(`packet ${i}: ${what} entry without iid or value`);
  if (table.has(iid) && table.get(iid) !== value)
    throw new PerfettoCheckError(`packet ${i}: ${what} iid ${iid} redefined from "${table.get(iid)}" to "${value}"`);
  table.set(iid, value);
}

/** The packet with interned ids replaced by their strings (name, annotation names and values). */
function resolve(
  p: PerfettoPacket,
  names: ReadonlyMap<string, string>,
  argNames: ReadonlyMap<string, string>,
  argStrings: ReadonlyMap<string, string>,
): PerfettoPacket {
  const e = p.track_event;
  if (e === undefined) return p;
  return {
    ...p,
    track_event: {
      ...e,
      name: e.name ?? (e.name_iid === undefined ? undefined : names.get(e.name_iid)),
      debug_annotations: (e.debug_annotations ?? []).map((a) => ({
        ...a,
        name: a.name ?? (a.name_iid === undefined ? undefined : argNames.get(a.name_iid)),
        string_value: a.string_value ?? (a.string_value_iid === undefined ? undefined : argStrings.get(a.string_value_iid)),
      })),
    },
  };
}
