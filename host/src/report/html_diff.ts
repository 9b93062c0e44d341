// html_diff.ts: `diff A B --html OUT`: the two runs side by side (headline
// numbers with their change, time per token of the largest changes as paired
// bars, the ranked table), self-contained like the report.
import type { TraceDiff } from '../analysis/diff.js';
import { CSP } from './html_report.js';
import { barChart, esc, fmt } from './svg.js';

export function renderDiff(d: TraceDiff, names: readonly [string, string], top = 20): string {
  const pct = (v: number | undefined) => (v === undefined ? '-' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`);
  const cards = d.headlines
    .map((h) => {
      const cls = h.change === undefined || h.change === 0 ? '' : (h.change > 0) === h.higherIsBetter ? 'better' : 'worse';
      return `<div class="card ${cls}" data-headline="${esc(h.name)}"><div class="k">${esc(h.name)}</div><div class="v">${esc(h.a === undefined ? '-' : fmt(h.a))} \u2192 ${esc(h.b === undefined ? '-' : fmt(h.b))}</div><div class="d">${pct(h.change)}</div></div>`;
    })
    .join('');
  const rows = d.changes.slice(0, top);
  const chart = barChart(
    rows.flatMap((c) => [
      { label: `${c.key} A`, parts: [c.aMs, 0] },
      { label: `${c.key} B`, parts: [0, c.bMs] },
    ]),
    { title: 'ms per token, A and B, largest changes first', unit: 'ms', legend: ['A', 'B'] },
  );
  const table = `<table><tr><th>what</th><th>A ms/token</th><th>B ms/token</th><th>delta</th><th>B/A</th></tr>${rows
    .map((c) => `<tr><td>${esc(c.key)}</td><td>${fmt(c.aMs)}</td><td>${fmt(c.bMs)}</td><td>${c.deltaMs >= 0 ? '+' : ''}${fmt(c.deltaMs)}</td><td>${fmt(c.ratio)}</td></tr>`)
    .join('')}</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>ProfInfer diff</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0} h2{font-size:16px;margin:24px 0 6px;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:140px}
.card .v{font-size:17px;font-weight:600}.card .d{font-size:13px}.better .d{color:#2a7d2a}.worse .d{color:#b03030}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:2px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
svg .title{font-weight:600;font-size:13px} svg .label{font-size:12px} svg .small{font-size:11px;fill:#444}
</style></head><body>
<h1>A: ${esc(names[0])}<br>B: ${esc(names[1])}</h1>
${d.note ? `<p>${esc(d.note)}</p>` : ''}
<h2>Headline</h2><div class="cards">${cards}</div>
<h2>Largest changes</h2><div>${chart}</div>${table}
</body></html>
`;
}
