import { describe, expect, it } from 'vitest';
import { f32ToF16Bits } from './quantize.js';
import { RandomWeights, hashString, normalQuantile, normalTable } from './random_weights.js';

describe('normalQuantile', () => {
  it.each([
    [0.5, 0],
    [0.8413447460685429, 1],
    [0.15865525393145707, -1],
    [0.9772498680518208, 2],
    [0.001349898031630093, -3],
  ])('Phi^-1(%d) = %d', (p, x) => {
    expect(normalQuantile(p)).toBeCloseTo(x, 7);
  });

  it('rejects p outside (0, 1)', () => {
    expect(() => normalQuantile(0)).toThrow(RangeError);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('normalTable', () => {
  it('holds F16-exact values with the asked-for spread', () => {
    const t = normalTable(0.02);
    let sum = 0;
    let sq = 0;
    let mismatches = 0;
    for (let i = 0; i < t.float.length; i++) {
      const x = t.float[i] as number;
      if (f32ToF16Bits(x) !== t.half[i]) mismatches++;
      sum += x;
      sq += x * x;
    }
    expect(mismatches).toBe(0);
    expect(Math.abs(sum / t.float.length)).toBeLessThan(1e-6);
    expect(Math.sqrt(sq / t.float.length)).toBeCloseTo(0.02, 4);
  });
});

describe('RandomWeights', () => {
  it('gives the same stream for the same seed and name, another for another', () => {
    const draw = (seed: number, name: string): Float32Array => {
      const out = new Float32Array(1001);
      new RandomWeights(seed, name, 0.02).fill(out);
      return out;
    };
    expect(draw(1, 'a')).toEqual(draw(1, 'a'));
    expect(draw(1, 'a')).not.toEqual(draw(2, 'a'));
    expect(draw(1, 'a')).not.toEqual(draw(1, 'b'));
  });

  it('does not depend on how the stream is cut into chunks', () => {
    const whole = new Float32Array(100);
    new RandomWeights(7, 't', 0.02).fill(whole);
    const r = new RandomWeights(7, 't', 0.02);
    const parts = [new Float32Array(40), new Float32Array(60)];
    for (const p of parts) r.fill(p);
    expect(Float32Array.from([...(parts[0] as Float32Array), ...(parts[1] as Float32Array)])).toEqual(whole);
  });

  it('fillHalf gives the halves of what fill gives', () => {
    const f = new Float32Array(4096);
    const h = new Uint16Array(4096);
    new RandomWeights(3, 'x', 0.02).fill(f);
    new RandomWeights(3, 'x', 0.02).fillHalf(h);
    expect(Uint16Array.from(f, (x) => f32ToF16Bits(x))).toEqual(h);
  });

  it('looks normal: mean ~0, std ~0.02, finite', () => {
    const f = new Float32Array(1 << 18);
    new RandomWeights(1, 'stats', 0.02).fill(f);
    const mean = f.reduce((a, b) => a + b, 0) / f.length;
    const std = Math.sqrt(f.reduce((a, b) => a + (b - mean) ** 2, 0) / f.length);
    expect(Math.abs(mean)).toBeLessThan(2e-4);
    expect(std).toBeCloseTo(0.02, 3);
    expect(f.every(Number.isFinite)).toBe(true);
  });

  it('hashes names with FNV-1a', () => {
    expect(hashString('')).toBe(0x811c9dc5);
    expect(hashString('a')).toBe(0xe40c292c);
  });
});
