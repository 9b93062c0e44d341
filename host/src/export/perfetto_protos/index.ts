// The one door to the Perfetto trace schema (schema.ts): the parsed message
// types, for decoding exported files (tests, `export --check`), and their field
// numbers, which the streaming encoder in ../perfetto.ts writes with.
import protobuf from 'protobufjs';
import { PERFETTO_PROTO } from './schema.js';

const root = protobuf.parse(PERFETTO_PROTO, { keepCase: true }).root;

function type(name: string): protobuf.Type {
  return root.lookupType(`perfetto.protos.${name}`);
}

export const PerfettoTrace = type('Trace');
export const PerfettoTracePacket = type('TracePacket');

/** Field numbers of one message, by upstream (snake_case) name. */
export type FieldIds<K extends string> = { readonly [name in K]: number };

function fieldIds<K extends string>(message: string, names: readonly K[]): FieldIds<K> {
  const t = type(message);
  const out = {} as Record<K, number>;
  for (const n of names) {
    const f = t.fields[n];
    if (f === undefined) throw new Error(`perfetto schema: ${message}.${n} is missing`);
    out[n] = f.id;
  }
  return out;
}

export const F = {
  Trace: fieldIds('Trace', ['packet']),
  TracePacket: fieldIds('TracePacket', [
    'timestamp',
    'track_event',
    'track_descriptor',
    'trusted_packet_sequence_id',
    'interned_data',
    'sequence_flags',
    'first_packet_on_sequence',
  ]),
  TrackDescriptor: fieldIds('TrackDescriptor', [
    'uuid',
    'parent_uuid',
    'name',
    'description',
    'process',
    'thread',
    'counter',
    'child_ordering',
    'sibling_order_rank',
  ]),
  ProcessDescriptor: fieldIds('ProcessDescriptor', ['pid', 'cmdline', 'process_name']),
  ThreadDescriptor: fieldIds('ThreadDescriptor', ['pid', 'tid', 'thread_name']),
  CounterDescriptor: fieldIds('CounterDescriptor', ['unit', 'unit_name', 'is_incremental']),
  TrackEvent: fieldIds('TrackEvent', [
    'name_iid',
    'name',
    'type',
    'track_uuid',
    'counter_value',
    'double_counter_value',
    'flow_ids',
    'terminating_flow_ids',
    'debug_annotations',
  ]),
  DebugAnnotation: fieldIds('DebugAnnotation', [
    'name_iid',
    'name',
    'bool_value',
    'uint_value',
    'int_value',
    'double_value',
    'string_value',
    'string_value_iid',
  ]),
  InternedData: fieldIds('InternedData', ['event_names', 'debug_annotation_names', 'debug_annotation_string_values']),
  /** EventName, DebugAnnotationName and InternedString share this shape. */
  Interned: fieldIds('EventName', ['iid', 'name']),
} as const;

/** TracePacket.SequenceFlags */
export const SequenceFlags = {
  INCREMENTAL_STATE_CLEARED: 1,
  NEEDS_INCREMENTAL_STATE: 2,
} as const;

/** TrackEvent.Type */
export const TrackEventType = {
  SLICE_BEGIN: 1,
  SLICE_END: 2,
  INSTANT: 3,
  COUNTER: 4,
} as const;

/** CounterDescriptor.Unit */
export const CounterUnit = {
  TIME_NS: 1,
  COUNT: 2,
  SIZE_BYTES: 3,
} as const;

/** TrackDescriptor.ChildTracksOrdering */
export const ChildOrdering = {
  LEXICOGRAPHIC: 1,
  CHRONOLOGICAL: 2,
  EXPLICIT: 3,
} as const;

// Plain-object forms of decoded messages (toObject with keepCase, longs as
// String): what tests read. Only the fields the exporter writes.
export interface PerfettoDebugAnnotation {
  name_iid?: string;
  name?: string;
  bool_value?: boolean;
  uint_value?: string;
  int_value?: string;
  double_value?: number;
  string_value?: string;
  string_value_iid?: string;
}
export interface PerfettoInternedEntry {
  iid?: string;
  name?: string;
  str?: Uint8Array;
}
export interface PerfettoPacket {
  timestamp?: string;
  trusted_packet_sequence_id?: number;
  sequence_flags?: number;
  first_packet_on_sequence?: boolean;
  interned_data?: {
    event_names?: PerfettoInternedEntry[];
    debug_annotation_names?: PerfettoInternedEntry[];
    debug_annotation_string_values?: PerfettoInternedEntry[];
  };
  track_descriptor?: {
    uuid?: string;
    parent_uuid?: string;
    name?: string;
    description?: string;
    process?: { pid?: number; cmdline?: string[]; process_name?: string };
    thread?: { pid?: number; tid?: string; thread_name?: string };
    counter?: { unit?: number; unit_name?: string; is_incremental?: boolean };
    child_ordering?: number;
    sibling_order_rank?: number;
  };
  track_event?: {
    name_iid?: string;
    name?: string;
    type?: number;
    track_uuid?: string;
    counter_value?: string;
    double_counter_value?: number;
    flow_ids?: string[];
    terminating_flow_ids?: string[];
    debug_annotations?: PerfettoDebugAnnotation[];
  };
}

/** Decodes a whole exported Perfetto trace to plain packets (tests, small files). */
export function decodePerfettoTrace(bytes: Uint8Array): PerfettoPacket[] {
  const trace = PerfettoTrace.decode(bytes);
  const obj = PerfettoTrace.toObject(trace, { longs: String, enums: Number });
  return (obj['packet'] ?? []) as PerfettoPacket[];
}
