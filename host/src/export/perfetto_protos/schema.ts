// The subset of Perfetto's trace protos that ProfInfer writes, with the public
// field numbers of google/perfetto protos/perfetto/trace/ (trace.proto,
// trace_packet.proto, track_event/{track_event,track_descriptor,
// process_descriptor,thread_descriptor,counter_descriptor,debug_annotation}.proto,
// interned_data/interned_data.proto). Written by hand: only the fields the
// exporter sets or a test reads. Field numbers are wire format and never change
// upstream; names follow upstream so a reader can grep for them.
//
// The text is parsed once at load (protobufjs reflection); perfetto_protos/
// index.ts is the one door to it (STYLE.md habit 9), and the exporter takes its
// field numbers from the parsed schema, so the schema is the single source.
export const PERFETTO_PROTO = `
syntax = "proto2";
package perfetto.protos;

message Trace {
  repeated TracePacket packet = 1;
}

message TracePacket {
  // Nanoseconds on the trace's default clock (BOOTTIME unless timestamp_clock_id says otherwise).
  optional uint64 timestamp = 8;
  optional uint32 timestamp_clock_id = 58;
  oneof data {
    TrackEvent track_event = 11;
    TrackDescriptor track_descriptor = 60;
  }
  oneof optional_trusted_packet_sequence_id {
    uint32 trusted_packet_sequence_id = 10;
  }
  optional InternedData interned_data = 12;
  enum SequenceFlags {
    SEQ_UNSPECIFIED = 0;
    SEQ_INCREMENTAL_STATE_CLEARED = 1;
    SEQ_NEEDS_INCREMENTAL_STATE = 2;
  }
  optional uint32 sequence_flags = 13;
  optional bool first_packet_on_sequence = 87;
}

message TrackDescriptor {
  optional uint64 uuid = 1;
  optional uint64 parent_uuid = 5;
  oneof static_or_dynamic_name {
    string name = 2;
    string static_name = 10;
  }
  optional string description = 14;
  optional ProcessDescriptor process = 3;
  optional ThreadDescriptor thread = 4;
  optional CounterDescriptor counter = 8;
  enum ChildTracksOrdering {
    UNKNOWN = 0;
    LEXICOGRAPHIC = 1;
    CHRONOLOGICAL = 2;
    EXPLICIT = 3;
  }
  optional ChildTracksOrdering child_ordering = 11;
  optional int32 sibling_order_rank = 12;
}

message ProcessDescriptor {
  optional int32 pid = 1;
  repeated string cmdline = 2;
  optional string process_name = 6;
}

message ThreadDescriptor {
  optional int32 pid = 1;
  optional int64 tid = 2;
  optional string thread_name = 5;
}

message CounterDescriptor {
  enum Unit {
    UNIT_UNSPECIFIED = 0;
    UNIT_TIME_NS = 1;
    UNIT_COUNT = 2;
    UNIT_SIZE_BYTES = 3;
  }
  optional Unit unit = 3;
  optional string unit_name = 6;
  optional bool is_incremental = 5;
}

message TrackEvent {
  repeated uint64 category_iids = 3;
  repeated string categories = 22;
  oneof name_field {
    uint64 name_iid = 10;
    string name = 23;
  }
  enum Type {
    TYPE_UNSPECIFIED = 0;
    TYPE_SLICE_BEGIN = 1;
    TYPE_SLICE_END = 2;
    TYPE_INSTANT = 3;
    TYPE_COUNTER = 4;
  }
  optional Type type = 9;
  optional uint64 track_uuid = 11;
  oneof counter_value_field {
    int64 counter_value = 30;
    double double_counter_value = 44;
  }
  repeated fixed64 flow_ids = 47;
  repeated fixed64 terminating_flow_ids = 48;
  repeated DebugAnnotation debug_annotations = 4;
}

message DebugAnnotation {
  oneof name_field {
    uint64 name_iid = 1;
    string name = 10;
  }
  oneof value {
    bool bool_value = 2;
    uint64 uint_value = 3;
    int64 int_value = 4;
    double double_value = 5;
    string string_value = 6;
    uint64 string_value_iid = 17;
  }
  repeated DebugAnnotation dict_entries = 11;
  repeated DebugAnnotation array_values = 12;
}

message InternedData {
  repeated EventCategory event_categories = 1;
  repeated EventName event_names = 2;
  repeated DebugAnnotationName debug_annotation_names = 3;
  repeated InternedString debug_annotation_string_values = 29;
}

message EventCategory {
  optional uint64 iid = 1;
  optional string name = 2;
}

message EventName {
  optional uint64 iid = 1;
  optional string name = 2;
}

message DebugAnnotationName {
  optional uint64 iid = 1;
  optional string name = 2;
}

message InternedString {
  optional uint64 iid = 1;
  optional bytes str = 2;
}
`;
