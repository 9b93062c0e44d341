// packets.ts: TracePacket bytes (from stream_reader.ts) to the generated
// TracePacket type, and a stable JSON form for goldens and debugging.
// normalize.ts turns decoded packets into the readonly bigint-ns model.
import type { IConversionOptions } from 'protobufjs';
import { TracePacket, type PacketKind } from '../proto.js';
import type { RawPacket } from './stream_reader.js';

/** A packet's bytes are not a valid TracePacket. */
export class PacketDecodeError extends Error {
  constructor(
    message: string,
    /** Byte offset of the packet's frame in the trace. */
    readonly offset: number,
    readonly packetIndex: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

export function decodePacket(raw: RawPacket): TracePacket {
  try {
    return TracePacket.decode(raw.bytes);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new PacketDecodeError(
      `packet ${raw.index} at byte ${raw.offset} is not a valid TracePacket: ${why}`,
      raw.offset,
      raw.index,
      { cause },
    );
  }
}

/** Which payload the packet carries; undefined for an empty packet or one
 * from a newer schema (its unknown field is skipped). */
export function packetKind(packet: TracePacket): PacketKind | undefined {
  return packet.data ?? undefined;
}

/**
 * How messages become JSON (proto/testdata/<case>.expected.json): only fields
 * present on the wire, 64-bit integers as decimal strings (exact), enums by
 * name, bytes as base64, and the set oneof member named ("data": "token").
 */
export const JSON_OPTIONS: IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: true,
};

export function packetToJson(packet: TracePacket): Record<string, unknown> {
  return TracePacket.toObject(packet, JSON_OPTIONS);
}
