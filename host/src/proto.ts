// The one door to the generated protobuf code (STYLE.md habit 9): import
// profinfer.v1 types only from here, never from ./gen/ directly.
//
// host/src/gen/profinfer.{js,d.ts} come from scripts/gen_proto.sh (pbjs
// static module, --force-long: every 64-bit field decodes to a Long, never to
// a lossy number). Use longToBigInt() to get the bigint ns the model wants.
import protobuf from 'protobufjs/minimal.js';
import { profinfer } from './gen/profinfer.js';

/** Every message class (with its `I*` interface) and enum of profinfer.v1. */
export import v1 = profinfer.v1;

export const Trace = v1.Trace;
export type Trace = v1.Trace;
export const TracePacket = v1.TracePacket;
export type TracePacket = v1.TracePacket;
export const ClientMessage = v1.ClientMessage;
export type ClientMessage = v1.ClientMessage;
export const ServerMessage = v1.ServerMessage;
export type ServerMessage = v1.ServerMessage;
export const TraceLevel = v1.TraceLevel;
export type TraceLevel = v1.TraceLevel;
export const EventKind = v1.EventKind;
export type EventKind = v1.EventKind;
export const ErrorCode = v1.ErrorCode;
export type ErrorCode = v1.ErrorCode;

/** The member of `TracePacket.data` that is set: "nodeEvents", "token", ... */
export type PacketKind = NonNullable<TracePacket['data']>;

/** The 64-bit value protobufjs decodes uint64/int64 fields to. */
export type Long = protobuf.Long;

// Without long.js, protobufjs silently decodes 64-bit fields to numbers and
// loses ns precision above 2^53 (CLOCK_REALTIME ns already is). Refuse.
if (protobuf.util.Long === undefined || protobuf.util.Long === null) {
  throw new Error('protobufjs was loaded without long.js: 64-bit trace fields would lose precision');
}

/** A uint64 field (Long, or number for values built by hand) as an unsigned bigint. */
export function longToBigInt(value: Long | number | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number') return BigInt(value);
  return (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
}

/** An int64 / sint64 field as a signed bigint. */
export function longToSignedBigInt(value: Long | number | null | undefined): bigint {
  return BigInt.asIntN(64, longToBigInt(value));
}
