// svg.ts: the few chart shapes the HTML report draws, as inline SVG strings
// (no script, no fonts or images from anywhere: the report is one file that
// opens offline). Every text that came from a trace is escaped.

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A number for people: 3 significant digits, thousands kept whole. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v === 0 ? '0' : v.toPrecision(2);
}

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const color = (i: number): string => PALETTE[i % PALETTE.length] as string;

export interface Bar {
  readonly label: string;
  /** Stacked segments, drawn left to right. */
  readonly parts: readonly number[];
  /** Shown at the bar's end (default: the sum). */
  readonly note?: string;
}

/** Horizontal (stacked) bars, one row per label. */
export function barChart(bars: readonly Bar[], o: { title: string; unit: string; legend?: readonly string[]; width?: number }): string {
  const width = o.width ?? 760;
  const row = 20;
  const labelW = 190;
  const noteW = 110;
  const top = o.legend ? 40 : 26;
  const height = top + bars.length * row + 8;
  const max = Math.max(1e-12, ...bars.map((b) => b.parts.reduce((s, v) => s + Math.max(0, v), 0)));
  const plotW = width - labelW - noteW;
  const out = [svgOpen(width, height, o.title), text(4, 16, o.title, 'title')];
  o.legend?.forEach((l, i) => {
    out.push(`<rect x="${labelW + i * 120}" y="24" width="10" height="10" fill="${color(i)}"/>`, text(labelW + i * 120 + 14, 33, l, 'small'));
  });
  bars.forEach((b, r) => {
    const y = top + r * row;
    out.push(text(labelW - 6, y + 14, b.label, 'label', 'end'));
    let x = labelW;
    b.parts.forEach((v, i) => {
      const w = (Math.max(0, v) / max) * plotW;
      if (w > 0) out.push(`<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" fill="${color(i)}"><title>${esc(`${b.label}: ${fmt(v)} ${o.unit}`)}</title></rect>`);
      x += w;
    });
    const total = b.parts.reduce((s, v) => s + v, 0);
    out.push(text(x + 4, y + 14, b.note ?? `${fmt(total)} ${o.unit}`, 'small'));
  });
  out.push('</svg>');
  return out.join('');
}

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

/** Lines (or dots) over x, for the token timeline. */
export function lineChart(series: readonly Series[], o: { title: string; x: string; y: string; dots?: boolean; width?: number; height?: number }): string {
  const width = o.width ?? 760;
  const height = o.height ?? 260;
  const m = { l: 60, r: 16, t: 44, b: 40 };
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, 1);
  const y1 = Math.max(...ys, 1e-12) * 1.05;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (width - m.l - m.r);
  const sy = (y: number) => height - m.b - (y / y1) * (height - m.t - m.b);
  const out = [svgOpen(width, height, o.title), text(4, 16, o.title, 'title'), axes(width, height, m)];
  for (const t of ticks(0, y1)) out.push(text(m.l - 4, sy(t) + 4, fmt(t), 'small', 'end'), `<line x1="${m.l}" x2="${width - m.r}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/>`);
  for (const t of ticks(x0, x1)) out.push(text(sx(t), height - m.b + 14, fmt(t), 'small', 'middle'));
  out.push(text(width / 2, height - 6, o.x, 'small', 'middle'), text(12, m.t - 8, o.y, 'small'));
  series.forEach((s, i) => {
    if (o.dots) for (const [x, y] of s.points) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color(i)}"><title>${esc(`${s.name} ${fmt(x)}: ${fmt(y)}`)}</title></circle>`);
    else out.push(`<polyline fill="none" stroke="${color(i)}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    out.push(`<rect x="${width - 150}" y="${m.t + i * 14}" width="10" height="10" fill="${color(i)}"/>`, text(width - 136, m.t + i * 14 + 9, s.name, 'small'));
  });
  out.push('</svg>');
  return out.join('');
}

/** Rows x columns of counts, darker is more (the expert heat map). */
export function heatMap(rows: readonly { label: string; values: readonly number[] }[], o: { title: string; column: string }): string {
  const cols = Math.max(0, ...rows.map((r) => r.values.length));
  const cell = Math.max(6, Math.min(22, Math.floor(640 / Math.max(1, cols))));
  const labelW = 90;
  const top = 34;
  const width = labelW + cols * cell + 20;
  const height = top + rows.length * cell + 30;
  const max = Math.max(1, ...rows.flatMap((r) => r.values));
  const out = [svgOpen(width, height, o.title), text(4, 16, o.title, 'title')];
  rows.forEach((r, y) => {
    out.push(text(labelW - 6, top + y * cell + cell * 0.75, r.label, 'small', 'end'));
    r.values.forEach((v, x) => {
      const a = v / max;
      out.push(`<rect x="${labelW + x * cell}" y="${top + y * cell}" width="${cell - 1}" height="${cell - 1}" fill="rgba(78,121,167,${(0.06 + 0.94 * a).toFixed(3)})"><title>${esc(`${r.label}, ${o.column} ${x}: ${v}`)}</title></rect>`);
    });
  });
  for (let x = 0; x < cols; x += Math.max(1, Math.ceil(cols / 16))) out.push(text(labelW + x * cell + cell / 2, top + rows.length * cell + 14, String(x), 'small', 'middle'));
  out.push(text(labelW, height - 4, `${o.column} (darker: chosen more often; max ${max})`, 'small'), '</svg>');
  return out.join('');
}

export interface RoofPoint {
  readonly label: string;
  /** FLOPs per byte. */
  readonly intensity: number;
  readonly gflops: number;
}

/** Log-log roofline: the memory roof up to the ridge, the compute roof after it. */
export function rooflineChart(points: readonly RoofPoint[], peaks: { gflops: number; gbps: number }, o: { title: string }): string {
  const width = 760;
  const height = 360;
  const m = { l: 64, r: 20, t: 44, b: 44 };
  const pts = points.filter((p) => p.intensity > 0 && p.gflops > 0);
  const ridge = peaks.gflops / peaks.gbps;
  const xlo = Math.min(ridge / 100, ...pts.map((p) => p.intensity)) / 2;
  const xhi = Math.max(ridge * 100, ...pts.map((p) => p.intensity)) * 2;
  const ylo = Math.min(peaks.gflops / 1e4, ...pts.map((p) => p.gflops)) / 2;
  const yhi = peaks.gflops * 2;
  const lx = (v: number) => m.l + ((Math.log10(v) - Math.log10(xlo)) / (Math.log10(xhi) - Math.log10(xlo))) * (width - m.l - m.r);
  const ly = (v: number) => height - m.b - ((Math.log10(v) - Math.log10(ylo)) / (Math.log10(yhi) - Math.log10(ylo))) * (height - m.t - m.b);
  const out = [svgOpen(width, height, o.title), text(4, 16, o.title, 'title'), axes(width, height, m)];
  for (let e = Math.ceil(Math.log10(xlo)); e <= Math.floor(Math.log10(xhi)); e++) out.push(text(lx(10 ** e), height - m.b + 14, fmt(10 ** e), 'small', 'middle'));
  for (let e = Math.ceil(Math.log10(ylo)); e <= Math.floor(Math.log10(yhi)); e++) out.push(text(m.l - 4, ly(10 ** e) + 4, fmt(10 ** e), 'small', 'end'));
  const memStart = Math.max(xlo, ylo / peaks.gbps);
  out.push(
    `<polyline fill="none" stroke="#333" stroke-width="2" points="${lx(memStart)},${ly(memStart * peaks.gbps)} ${lx(ridge)},${ly(peaks.gflops)} ${lx(xhi)},${ly(peaks.gflops)}"/>`,
    text(lx(ridge), ly(peaks.gflops) - 6, `ridge ${fmt(ridge)} FLOP/B`, 'small', 'middle'),
    text(width / 2, height - 6, 'arithmetic intensity (FLOP/byte, log)', 'small', 'middle'),
    text(12, m.t - 8, 'achieved GFLOP/s (log)', 'small'),
  );
  pts.forEach((p, i) => {
    out.push(`<circle cx="${lx(p.intensity).toFixed(1)}" cy="${ly(p.gflops).toFixed(1)}" r="4" fill="${color(i)}"><title>${esc(`${p.label}: ${fmt(p.intensity)} FLOP/B, ${fmt(p.gflops)} GFLOP/s`)}</title></circle>`);
    if (i < 8) out.push(text(lx(p.intensity) + 6, ly(p.gflops) + 4, p.label, 'small'));
  });
  out.push('</svg>');
  return out.join('');
}

function svgOpen(width: number, height: number, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">`;
}

function text(x: number, y: number, s: string, cls: string, anchor: 'start' | 'middle' | 'end' = 'start'): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" class="${cls}" text-anchor="${anchor}">${esc(s)}</text>`;
}

function axes(width: number, height: number, m: { l: number; r: number; t: number; b: number }): string {
  return `<line x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}" class="axis"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" class="axis"/>`;
}

/** About five round ticks between lo and hi. */
export function ticks(lo: number, hi: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const step0 = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((k) => k * step0).find((s) => span / s <= 6) ?? step0 * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}
