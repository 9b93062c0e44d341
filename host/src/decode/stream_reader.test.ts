// stream_reader.ts: chunk splits, cuts, corruption, limits, round trips.
// The writer's side of the same contract: collector-c/test/stream_writer_test.c.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Trace, TracePacket } from '../proto.js';
import { decodePacket, packetToJson } from './packets.js';
import {
  CorruptTraceError,
  MAX_PACKET_BYTES,
  type RawPacket,
  StreamReader,
  TraceReadError,
  TruncatedTraceError,
  readTraceFile,
  readTracePackets,
  splitTrace,
} from './stream_reader.js';

const TESTDATA = new URL('../../../proto/testdata/', import.meta.url);
const TRACE_MULTI = readFileSync(new URL('trace_multi.bin', TESTDATA));
/** Frame offsets of trace_multi.bin's six packets, and its length. */
const MULTI_OFFSETS = [0, 67, 89, 112, 135, 174];
const MULTI_END = 210;

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.trim().split(/\s+/), (h) => parseInt(h, 16));
}

/** Pushes `data` in chunks that end at `cuts`, then ends the stream. */
function pushSplit(data: Uint8Array, cuts: readonly number[]) {
  const reader = new StreamReader();
  const packets: RawPacket[] = [];
  let from = 0;
  for (const to of [...cuts, data.length]) {
    packets.push(...reader.push(data.subarray(from, to)));
    from = to;
  }
  return { packets, error: reader.end() };
}

function summary(packets: readonly RawPacket[]) {
  return packets.map((p) => ({ index: p.index, offset: p.offset, hex: Buffer.from(p.bytes).toString('hex') }));
}

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('StreamReader on the golden trace', () => {
  const whole = splitTrace(TRACE_MULTI);

  test('splits trace_multi.bin into its six packets', () => {
    expect(whole.error).toBeUndefined();
    expect(whole.packets.map((p) => p.offset)).toEqual(MULTI_OFFSETS);
    expect(whole.packets.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(TRACE_MULTI.length).toBe(MULTI_END);
  });

  test('gives the same packets for a chunk boundary at every byte', () => {
    const want = summary(whole.packets);
    for (let cut = 0; cut <= TRACE_MULTI.length; cut++) {
      const got = pushSplit(TRACE_MULTI, [cut]);
      expect(got.error, `cut at ${cut}`).toBeUndefined();
      expect(summary(got.packets), `cut at ${cut}`).toEqual(want);
    }
  });

  test('gives the same packets for every pair of chunk boundaries', () => {
    const want = summary(whole.packets);
    for (let a = 0; a <= TRACE_MULTI.length; a += 3) {
      for (let b = a; b <= TRACE_MULTI.length; b++) {
        expect(summary(pushSplit(TRACE_MULTI, [a, b]).packets)).toEqual(want);
      }
    }
  });

  test('gives the same packets one byte at a time', () => {
    const cuts = Array.from({ length: TRACE_MULTI.length }, (_, i) => i);
    expect(summary(pushSplit(TRACE_MULTI, cuts).packets)).toEqual(summary(whole.packets));
  });

  test('keeps every whole packet of a trace cut at any byte, and names the cut', () => {
    for (let cut = 0; cut <= TRACE_MULTI.length; cut++) {
      const { packets, error } = splitTrace(TRACE_MULTI.subarray(0, cut));
      const wholeBefore = [...MULTI_OFFSETS.slice(1), MULTI_END].filter((end) => end <= cut).length;
      expect(packets.length, `cut at ${cut}`).toBe(wholeBefore);
      if (cut === 0 || MULTI_OFFSETS.includes(cut) || cut === MULTI_END) {
        expect(error, `cut at ${cut}`).toBeUndefined();
        continue;
      }
      expect(error).toBeInstanceOf(TruncatedTraceError);
      expect(error).toBeInstanceOf(TraceReadError);
      expect(error?.name).toBe('TruncatedTraceError');
      expect(error?.offset).toBe(cut);
      expect(error?.packetIndex).toBe(wholeBefore);
      expect(error?.message).toMatch(new RegExp(`^trace is cut at byte ${cut}: packet ${wholeBefore} `));
    }
  });

  test('says how many bytes a cut packet misses', () => {
    // packet 1 (thread, 20 bytes): tag at 67, length at 68, body 69..89
    // 0a 14 ...
    expect(splitTrace(TRACE_MULTI.subarray(0, 75)).error?.message).toBe(
      'trace is cut at byte 75: packet 1 (at byte 67) needs 14 more bytes',
    );
    expect(splitTrace(TRACE_MULTI.subarray(0, 68)).error?.message).toBe(
      'trace is cut at byte 68: packet 1 (at byte 67) ends inside its length prefix',
    );
  });
});

describe('StreamReader on damaged input', () => {
  test('rejects bytes that are not a trace at all', () => {
    // "GGUF": a model file, not a trace
    // 47 47 55 46
    const { packets, error } = splitTrace(bytes('47 47 55 46'));
    expect(packets).toEqual([]);
    expect(error).toBeInstanceOf(CorruptTraceError);
    expect(error?.name).toBe('CorruptTraceError');
    expect(error?.message).toBe(
      'not a profinfer trace at byte 0: packet 0 starts with 0x47, expected 0x0a (Trace.packet, length-delimited)',
    );
  });

  test('keeps the packets before a bad tag', () => {
    const data = bytes(`
      0a 02 08 01
      12 00
    `);
    // packet 0: 0a 02 08 01 (a TracePacket of 2 bytes)
    // then field 2, length-delimited: Trace has no field 2
    const { packets, error } = splitTrace(data);
    expect(summary(packets)).toEqual([{ index: 0, offset: 0, hex: '0801' }]);
    expect(error?.message).toBe(
      'trace is corrupt at byte 4: packet 1 starts with 0x12, expected 0x0a (Trace.packet, length-delimited)',
    );
    expect(error?.offset).toBe(4);
  });

  test('rejects a length over MAX_PACKET_BYTES before buffering anything', () => {
    // packet 0 declares 2^24 + 1 bytes
    // 0a 81 80 80 08
    const { packets, error } = splitTrace(bytes('0a 81 80 80 08'));
    expect(packets).toEqual([]);
    expect(error).toBeInstanceOf(CorruptTraceError);
    expect(error?.message).toBe(
      'trace is corrupt at byte 0: packet 0 declares 16777217 bytes, over MAX_PACKET_BYTES (16777216)',
    );
  });

  test('MAX_PACKET_BYTES is the writer\'s PI_MAX_PACKET_BYTES', () => {
    const header = readFileSync(new URL('../../../collector-c/src/stream_writer.h', import.meta.url), 'utf8');
    const match = /#define PI_MAX_PACKET_BYTES \((\d+)u << (\d+)\)/.exec(header);
    expect(match).not.toBeNull();
    expect(Number(match?.[1]) * 2 ** Number(match?.[2])).toBe(MAX_PACKET_BYTES);
  });

  test('accepts a packet of exactly MAX_PACKET_BYTES', () => {
    // 0a 80 80 80 08 <2^24 zero bytes>
    const data = new Uint8Array(5 + MAX_PACKET_BYTES);
    data.set(bytes('0a 80 80 80 08'));
    const { packets, error } = splitTrace(data);
    expect(error).toBeUndefined();
    expect(packets[0]?.bytes.length).toBe(MAX_PACKET_BYTES);
  });

  test('rejects a length varint longer than 10 bytes, however it is split', () => {
    // packet 1: tag, then 10 continuation bytes
    // 0a 00 | 0a ff ff ff ff ff ff ff ff ff ff
    const data = bytes('0a 00 0a ff ff ff ff ff ff ff ff ff ff');
    for (let cut = 0; cut <= data.length; cut++) {
      const { packets, error } = pushSplit(data, [cut]);
      expect(packets.length).toBe(1);
      expect(error?.message).toBe('trace is corrupt at byte 2: packet 1 has a length prefix longer than 10 bytes');
    }
  });

  test('treats a length that overruns the end as a cut', () => {
    // packet 0 says 100 bytes, 3 follow
    // 0a 64 01 02 03
    const { error } = splitTrace(bytes('0a 64 01 02 03'));
    expect(error).toBeInstanceOf(TruncatedTraceError);
    expect(error?.message).toBe('trace is cut at byte 5: packet 0 (at byte 0) needs 97 more bytes');
  });

  test('corrupting any length byte of the golden trace never loses earlier packets', () => {
    for (const [k, offset] of MULTI_OFFSETS.entries()) {
      for (const value of [0x00, 0x7f, 0xff]) {
        const data = Uint8Array.from(TRACE_MULTI);
        data[offset + 1] = value;
        const { packets } = splitTrace(data);
        expect(packets.length).toBeGreaterThanOrEqual(k);
        expect(summary(packets.slice(0, k))).toEqual(summary(splitTrace(TRACE_MULTI).packets.slice(0, k)));
      }
    }
  });

  test('stops taking input after corruption', () => {
    const reader = new StreamReader();
    expect(reader.push(bytes('ff'))).toEqual([]);
    expect(reader.push(bytes('0a 00'))).toEqual([]);
    expect(reader.end()).toBeInstanceOf(CorruptTraceError);
  });
});

describe('StreamReader round trips', () => {
  /** A random packet of a few kinds, in TracePacket.fromObject form (64-bit values as strings). */
  function randomPacket(next: () => number): Record<string, unknown> {
    const n = Math.floor(next() * 300);
    const long = () => (BigInt(Math.floor(next() * 2 ** 53)) * BigInt(1 + Math.floor(next() * 1000))).toString();
    switch (Math.floor(next() * 4)) {
      case 0:
        return {
          nodeEvents: {
            pid: 1 + Math.floor(next() * 100000),
            graphId: long(),
            nodeIndexDelta: Array.from({ length: n }, () => Math.floor(next() * 4)),
            computeNs: Array.from({ length: n }, long),
            barrierNs: Array.from({ length: n }, long),
          },
        };
      case 1:
        return { token: { pid: 7, startNs: long(), result: -Math.floor(next() * 5) } };
      case 2:
        return { thread: { pid: 1, tid: 2, name: 'x'.repeat(n) } };
      default:
        return {}; // an empty packet: frame 0a 00
    }
  }

  test('protobufjs-framed traces split back into the same packets, in any chunks', () => {
    const next = rng(42);
    for (let round = 0; round < 200; round++) {
      const packets = Array.from({ length: Math.floor(next() * 12) }, () =>
        TracePacket.fromObject(randomPacket(next)),
      );
      // An independent framer: Trace.encode writes field 1 per packet.
      const data = Trace.encode({ packet: packets }).finish();
      const cuts = Array.from({ length: Math.floor(next() * 6) }, () => Math.floor(next() * data.length)).sort(
        (a, b) => a - b,
      );
      const got = pushSplit(data, cuts);
      expect(got.error).toBeUndefined();
      expect(got.packets.map((raw) => packetToJson(decodePacket(raw)))).toEqual(packets.map(packetToJson));
    }
  });

  test('a 4 MiB packet in 1000-byte chunks', () => {
    // packet 0: 4 MiB = 2^22 bytes
    // 0a 80 80 80 02
    const body = new Uint8Array(4 << 20).map((_, i) => i * 7);
    const data = new Uint8Array(5 + body.length);
    data.set(bytes('0a 80 80 80 02'));
    data.set(body, 5);
    const cuts = Array.from({ length: Math.floor(data.length / 1000) }, (_, i) => (i + 1) * 1000);
    const got = pushSplit(data, cuts);
    expect(got.error).toBeUndefined();
    expect(got.packets.length).toBe(1);
    expect(Buffer.compare(Buffer.from(got.packets[0]?.bytes ?? []), Buffer.from(body))).toBe(0);
  });
});

describe('readTraceFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'profinfer-reader-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function collect(iterable: AsyncIterable<RawPacket>) {
    const packets: RawPacket[] = [];
    try {
      for await (const packet of iterable) packets.push(packet);
    } catch (error) {
      return { packets, error };
    }
    return { packets, error: undefined };
  }

  test('reads a whole trace file', async () => {
    const path = join(dir, 'whole.profinfer');
    writeFileSync(path, TRACE_MULTI);
    const { packets, error } = await collect(readTraceFile(path));
    expect(error).toBeUndefined();
    expect(packets.map((p) => packetToJson(decodePacket(p)))).toEqual(
      JSON.parse(readFileSync(new URL('trace_multi.expected.json', TESTDATA), 'utf8')),
    );
  });

  test('yields the whole packets of a cut file, then throws the cut', async () => {
    const path = join(dir, 'cut.profinfer');
    writeFileSync(path, TRACE_MULTI.subarray(0, 150));
    const { packets, error } = await collect(readTraceFile(path));
    expect(packets.length).toBe(4);
    expect(error).toBeInstanceOf(TruncatedTraceError);
    expect((error as Error).message).toBe('trace is cut at byte 150: packet 4 (at byte 135) needs 24 more bytes');
  });

  test('reads from any async byte source in small chunks', async () => {
    async function* trickle() {
      for (let i = 0; i < TRACE_MULTI.length; i += 7) yield TRACE_MULTI.subarray(i, i + 7);
    }
    const { packets, error } = await collect(readTracePackets(trickle()));
    expect(error).toBeUndefined();
    expect(packets.map((p) => p.offset)).toEqual(MULTI_OFFSETS);
  });
});
