import { describe, expect, it } from 'vitest';
import { barChart, esc, fmt, heatMap, ticks } from './svg.js';

describe('svg helpers', () => {
  it('escapes every text that came from a trace', () => {
    expect(esc(`<script>alert("x")</script>&'`)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    const svg = barChart([{ label: '<img src=x onerror=alert(1)>', parts: [1] }], { title: 'a & b', unit: 'ms' });
    expect(svg).not.toContain('<img');
    expect(svg).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(svg).toContain('a &amp; b');
  });

  it('formats numbers for people and picks round ticks', () => {
    expect([fmt(2), fmt(1234.5), fmt(12.345), fmt(0.01234), fmt(NaN)]).toEqual(['2', '1,235', '12.3', '0.012', '-']);
    expect(ticks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(ticks(0, 0.37)).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('scales bars to the largest and shades the heat map by count', () => {
    const svg = barChart([{ label: 'a', parts: [2] }, { label: 'b', parts: [1] }], { title: 't', unit: 'ms', width: 500 });
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0]).toBeCloseTo(2 * (widths[1] as number));
    const hm = heatMap([{ label: 'layer 0', values: [0, 5, 10] }], { title: 'e', column: 'expert' });
    expect(hm).toContain('rgba(78,121,167,1.000)');
    expect(hm).toContain('rgba(78,121,167,0.060)');
  });
});
