// proto.ts: the facade's values work at run time, and 64-bit conversions are exact.
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, test } from 'vitest';
import { TraceLevel, TracePacket, longToBigInt, longToSignedBigInt, v1 } from './proto.js';

describe('proto facade', () => {
  test('exposes the generated classes and enums', () => {
    expect(TraceLevel.TRACE_LEVEL_NODE).toBe(4);
    expect(v1.EventKind.EVENT_KIND_OUTPUT).toBe(8);
    expect(TracePacket).toBe(v1.TracePacket);
  });

  test('decodes 64-bit fields to Long, never to a lossy number', () => {
    // token { start_ns: 2^64 - 1 }
    // 12 0b 18 ff ff ff ff ff ff ff ff ff 01
    const bytes = Uint8Array.from([0x12, 0x0b, 0x18, ...Array(9).fill(0xff), 0x01]);
    const startNs = TracePacket.decode(bytes).token?.startNs;
    expect(typeof startNs).toBe('object');
    expect(longToBigInt(startNs)).toBe(2n ** 64n - 1n);
  });

  test('converts Long, number and absent values', () => {
    // A Long as protobufjs builds it: two signed 32-bit halves.
    const long = (v: bigint, unsigned = true) =>
      new protobuf.util.Long(Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)), unsigned);
    expect(longToBigInt(long(1735689600123456789n))).toBe(1735689600123456789n);
    expect(longToBigInt(long(2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
    expect(longToSignedBigInt(long(-5n, false))).toBe(-5n);
    expect(longToBigInt(42)).toBe(42n);
    expect(longToBigInt(undefined)).toBe(0n);
    expect(longToBigInt(null)).toBe(0n);
  });
});
