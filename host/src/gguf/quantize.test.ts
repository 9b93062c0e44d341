import { describe, expect, it } from 'vitest';
import {
  GgmlType, Q8_0_BLOCK_BYTES, decodeQ8_0, encodeF16, encodeF32, encodeQ8_0, f16BitsToF32, f32ToF16Bits, rowBytes,
} from './quantize.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('f32ToF16Bits', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest half
    [65520, 0x7c00], // rounds up to Inf
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // below half the smallest subnormal: zero
    [1 + 2 ** -11, 0x3c00], // tie: to even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
  ])('%d -> %s', (x, bits) => {
    expect(f32ToF16Bits(x)).toBe(bits);
  });

  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue; // Inf / NaN
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });
});

describe('plain float encoders', () => {
  it('writes little-endian F32 and F16', () => {
    const v = Float32Array.of(1, -2, 0.5);
    expect(hex(encodeF32(v))).toBe('0000803f000000c00000003f');
    expect(hex(encodeF16(v))).toBe('003c00c00038');
  });
});

describe('Q8_0', () => {
  it('encodes a block as f16 scale + 32 int8 (golden bytes)', () => {
    // max |x| = 127 gives d = 1, so quants are the values rounded half away from zero.
    const v = new Float32Array(32);
    v[0] = 127;
    v[1] = -2.5; // roundf: -3 (Math.round would give -2)
    v[2] = 2.5; //          3
    v[3] = -0.4; //         0
    v[4] = 63.6; //         64
    const bytes = encodeQ8_0(v);
    expect(bytes.length).toBe(Q8_0_BLOCK_BYTES);
    // d = 1.0 = 0x3c00     7f    fd    03    00    40   then zeros
    expect(hex(bytes)).toBe(`003c` + `7f` + `fd` + `03` + `00` + `40` + '00'.repeat(27));
  });

  it('encodes an all-zero block with scale 0', () => {
    expect(hex(encodeQ8_0(new Float32Array(32)))).toBe('00'.repeat(34));
  });

  it('round-trips within half a step plus the f16 rounding of the scale', () => {
    const v = new Float32Array(256);
    for (let i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.37) * 0.05 * (1 + (i % 7));
    const back = decodeQ8_0(encodeQ8_0(v));
    for (let b = 0; b < v.length / 32; b++) {
      const block = v.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...block.map(Math.abs)) / 127;
      for (let j = 0; j < 32; j++) {
        expect(Math.abs((back[b * 32 + j] as number) - (block[j] as number))).toBeLessThanOrEqual(step * (0.5 + 127 * 2 ** -11));
      }
    }
  });

  it('reuses an output buffer', () => {
    const out = new Uint8Array(34 * 4);
    const r = encodeQ8_0(new Float32Array(64).fill(1), out);
    expect(r.buffer).toBe(out.buffer);
    expect(r.length).toBe(68);
  });

  it('rejects partial blocks', () => {
    expect(() => encodeQ8_0(new Float32Array(33))).toThrow(/multiple of 32/);
    expect(() => decodeQ8_0(new Uint8Array(35))).toThrow(/34-byte blocks/);
    expect(() => rowBytes(GgmlType.Q8_0, 48)).toThrow(/multiple of 32/);
  });

  it('sizes rows', () => {
    expect(rowBytes(GgmlType.F32, 256)).toBe(1024);
    expect(rowBytes(GgmlType.F16, 256)).toBe(512);
    expect(rowBytes(GgmlType.Q8_0, 256)).toBe(8 * 34);
  });
});
