// Framing of the control protocol (protocol/frame.ts): frames split at every
// possible byte, limits, and lengths that are not varints.
import { describe, expect, it } from 'vitest';
import { FrameError, FrameSplitter, MAX_SERVER_FRAME_BYTES, encodeFrame } from '../entry/src/main/ets/protocol/frame';

function body(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('FrameSplitter', () => {
  it('reassembles frames cut at every byte, lengths of 1 to 3 varint bytes', () => {
    const bodies = [body(0, 1), body(1, 2), body(127, 3), body(128, 4), body(300, 5), body(16384, 6)];
    const stream = Uint8Array.from(bodies.flatMap((b) => Array.from(encodeFrame(b))));
    expect(Array.from(encodeFrame(body(300, 0)).slice(0, 2))).toEqual([0xac, 0x02]);
    for (const cut of [1, 2, 3, 7, 129, 1000]) {
      const s = new FrameSplitter(MAX_SERVER_FRAME_BYTES);
      const got: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += cut) got.push(...s.push(stream.slice(i, i + cut)));
      expect(got.map((b) => Array.from(b))).toEqual(bodies.map((b) => Array.from(b)));
      expect(s.pending()).toBe(0);
    }
  });

  it('keeps a partial frame pending', () => {
    const s = new FrameSplitter(100);
    expect(s.push(new Uint8Array([5, 1, 2]))).toEqual([]);
    expect(s.pending()).toBe(3);
    expect(s.push(new Uint8Array([3, 4, 5, 0])).map((b) => Array.from(b))).toEqual([[1, 2, 3, 4, 5], []]);
  });

  it('refuses a frame over the limit as soon as its length says so', () => {
    const s = new FrameSplitter(1000);
    expect(() => s.push(new Uint8Array([0xe9, 0x07]))).toThrow(FrameError); // 1001
    expect(() => new FrameSplitter(1000).push(new Uint8Array([0xe8, 0x07]))).not.toThrow(); // 1000, pending
  });

  it('refuses a length that is not a varint', () => {
    const s = new FrameSplitter(2 ** 53);
    expect(() => s.push(new Uint8Array(11).fill(0x80))).toThrow(/not a valid varint/);
  });
});
