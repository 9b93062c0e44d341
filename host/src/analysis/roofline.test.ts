// roofline.ts: the micro-benchmark returns usable figures and says what it measured.
import { describe, expect, test } from 'vitest';
import { measurePeaks } from './roofline.js';

describe('measurePeaks', () => {
  test('positive, finite peaks, labelled as a micro-benchmark', () => {
    const t0 = performance.now();
    const p = measurePeaks(2);
    const ms = performance.now() - t0;
    expect(p.gflops).toBeGreaterThan(0);
    expect(p.gbps).toBeGreaterThan(0);
    expect(Number.isFinite(p.gflops) && Number.isFinite(p.gbps)).toBe(true);
    expect(p.source).toMatch(/micro-benchmark .*x 2 CPUs/);
    expect(ms).toBeLessThan(5000);
  });
});
