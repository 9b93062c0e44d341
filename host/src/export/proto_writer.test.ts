import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { F } from './perfetto_protos/index.js';
import { ProtoWriter, varintSize } from './proto_writer.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ProtoWriter', () => {
  it('writes varints as protobufjs does', () => {
    for (const v of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 4315158489701, 2 ** 53 - 1]) {
      expect(hex(new ProtoWriter().uint64(v).finish()), `uint64 ${v}`).toBe(hex(protobuf.Writer.create().uint64(v).finish()));
    }
    for (const v of [-1, -2, -5, -128, -129, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40)]) {
      expect(hex(new ProtoWriter().int64(v).finish()), `int64 ${v}`).toBe(hex(protobuf.Writer.create().int64(v).finish()));
    }
    expect(hex(new ProtoWriter().uint64Big(2n ** 64n - 1n).finish())).toBe('ffffffffffffffffff01');
  });

  it('writes the same varints unchecked after reserve(), and drains a scratch writer', () => {
    const values = [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32, 4315158489701, 2 ** 53 - 1];
    const w = new ProtoWriter(4);
    for (const v of values) w.reserve(11).u8(8).varint(v);
    const ref = protobuf.Writer.create();
    for (const v of values) ref.uint32(8).uint64(v);
    expect(hex(w.finish())).toBe(hex(ref.finish()));
    // drain(): short (byte loop) and long (set()) contents, the scratch empty afterwards and reusable.
    for (const n of [0, 5, 32, 33, 5000]) {
      const scratch = new ProtoWriter(8);
      scratch.raw(new Uint8Array(n).fill(9));
      const out = new ProtoWriter(2).uint32(1).drain(scratch).uint32(2);
      expect(hex(out.finish())).toBe(`01${'09'.repeat(n)}02`);
      expect(scratch.len).toBe(0);
      expect(hex(scratch.uint32(3).finish())).toBe('03');
    }
    const open = new ProtoWriter().fork();
    expect(() => new ProtoWriter().drain(open)).toThrow(/open fork/);
  });

  it('writes strings, doubles and booleans as protobufjs does', () => {
    for (const s of ['', 'MUL_MAT', 'blk.0.attn_q 🙂', 'x'.repeat(127), 'y'.repeat(128), 'é'.repeat(70), 'z'.repeat(20000)]) {
      expect(hex(new ProtoWriter(8).string(s).finish())).toBe(hex(protobuf.Writer.create().string(s).finish()));
    }
    expect(hex(new ProtoWriter().double(0.1).bool(true).bool(false).finish())).toBe(
      hex(protobuf.Writer.create().double(0.1).bool(true).bool(false).finish()),
    );
  });

  it('frames nested messages with minimal lengths at every size boundary', () => {
    for (const n of [0, 1, 126, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21]) {
      const body = new Uint8Array(n).fill(7);
      const ours = new ProtoWriter(16).uint32(0x0a).fork().uint32(0x12).fork().raw(body).ldelim().ldelim().finish();
      const theirs = protobuf.Writer.create().uint32(0x0a).fork().uint32(0x12).bytes(body).ldelim().finish();
      expect(ours.length, `body ${n}`).toBe(theirs.length);
      expect(Buffer.from(ours).equals(Buffer.from(theirs)), `body ${n}`).toBe(true);
    }
  });

  it('knows the size of a varint', () => {
    for (const v of [0, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 35 - 1, 2 ** 35, 2 ** 42, 2 ** 49, 2 ** 53 - 1]) {
      expect(varintSize(v), `${v}`).toBe(new ProtoWriter().uint64(v).finish().length);
    }
  });

  it('refuses unbalanced forks', () => {
    expect(() => new ProtoWriter().ldelim()).toThrow(/without fork/);
    expect(() => new ProtoWriter().fork().finish()).toThrow(/open fork/);
  });
});

describe('Perfetto field numbers (golden bytes, written from the upstream protos by hand)', () => {
  it('encodes a slice end packet', () => {
    // Trace { packet { timestamp: 1000 trusted_packet_sequence_id: 1
    //                  track_event { type: TYPE_SLICE_END track_uuid: 5 } } }
    const golden =
      '0a 0b' + //  Trace.packet (1, LEN), 11 bytes
      ' 40 e8 07' + // TracePacket.timestamp (8, varint) = 1000
      ' 50 01' + //    TracePacket.trusted_packet_sequence_id (10, varint) = 1
      ' 5a 04' + //    TracePacket.track_event (11, LEN), 4 bytes
      ' 48 02' + //      TrackEvent.type (9, varint) = TYPE_SLICE_END
      ' 58 05'; //       TrackEvent.track_uuid (11, varint) = 5
    const w = new ProtoWriter();
    const tag = (f: number, wire: number): number => (f << 3) | wire;
    w.uint32(tag(F.Trace.packet, 2)).fork();
    w.uint32(tag(F.TracePacket.timestamp, 0)).uint64(1000);
    w.uint32(tag(F.TracePacket.trusted_packet_sequence_id, 0)).uint32(1);
    w.uint32(tag(F.TracePacket.track_event, 2)).fork();
    w.uint32(tag(F.TrackEvent.type, 0)).uint32(2);
    w.uint32(tag(F.TrackEvent.track_uuid, 0)).uint64(5);
    w.ldelim().ldelim();
    expect(hex(w.finish())).toBe(golden.replace(/ /g, ''));
  });

  it('has the upstream numbers of the other fields it writes', () => {
    // From google/perfetto protos/perfetto/trace/**.proto.
    expect(F.TracePacket).toEqual({
      timestamp: 8, track_event: 11, track_descriptor: 60, trusted_packet_sequence_id: 10, interned_data: 12,
      sequence_flags: 13, first_packet_on_sequence: 87,
    });
    expect(F.TrackDescriptor).toEqual({
      uuid: 1, parent_uuid: 5, name: 2, description: 14, process: 3, thread: 4, counter: 8, child_ordering: 11,
      sibling_order_rank: 12,
    });
    expect(F.ProcessDescriptor).toEqual({ pid: 1, cmdline: 2, process_name: 6 });
    expect(F.ThreadDescriptor).toEqual({ pid: 1, tid: 2, thread_name: 5 });
    expect(F.CounterDescriptor).toEqual({ unit: 3, unit_name: 6, is_incremental: 5 });
    expect(F.TrackEvent).toEqual({
      name_iid: 10, name: 23, type: 9, track_uuid: 11, counter_value: 30, double_counter_value: 44, flow_ids: 47,
      terminating_flow_ids: 48, debug_annotations: 4,
    });
    expect(F.DebugAnnotation).toEqual({
      name_iid: 1, name: 10, bool_value: 2, uint_value: 3, int_value: 4, double_value: 5, string_value: 6,
      string_value_iid: 17,
    });
    expect(F.InternedData).toEqual({ event_names: 2, debug_annotation_names: 3, debug_annotation_string_values: 29 });
  });
});
