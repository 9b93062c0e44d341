// packets.ts: decode errors name the packet, kinds, and packets from a newer schema.
import { describe, expect, test } from 'vitest';
import { PacketDecodeError, decodePacket, packetKind } from './packets.js';

function raw(hex: string, index = 3, offset = 1234) {
  const bytes = hex.trim() === '' ? [] : hex.trim().split(/\s+/).map((h) => parseInt(h, 16));
  return { index, offset, bytes: Uint8Array.from(bytes) };
}

describe('decodePacket', () => {
  test('decodes a token packet', () => {
    // token { pid: 1 }
    // 12 02 08 01
    const packet = decodePacket(raw('12 02 08 01'));
    expect(packetKind(packet)).toBe('token');
    expect(packet.token?.pid).toBe(1);
  });

  test('names the packet and its offset when the bytes are not a TracePacket', () => {
    // token { <length 5, but 1 byte follows> }
    // 12 05 08
    let error: unknown;
    try {
      decodePacket(raw('12 05 08'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PacketDecodeError);
    expect((error as PacketDecodeError).name).toBe('PacketDecodeError');
    expect((error as PacketDecodeError).message).toMatch(
      /^packet 3 at byte 1234 is not a valid TracePacket: index out of range/,
    );
    expect((error as PacketDecodeError).packetIndex).toBe(3);
    expect((error as PacketDecodeError).cause).toBeInstanceOf(Error);
  });

  test('an empty packet has no kind', () => {
    expect(packetKind(decodePacket(raw('')))).toBeUndefined();
  });

  test('a payload from a newer schema is skipped, not an error', () => {
    // field 99 (length-delimited, 2 bytes): unknown to this schema
    // 9a 06 02 08 01
    expect(packetKind(decodePacket(raw('9a 06 02 08 01')))).toBeUndefined();
  });
});
