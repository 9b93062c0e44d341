// diff.ts: A/B comparison of two traces (Q8_0 vs F16, 1 vs 2 threads, before
// vs after a change). Runs differ in length, so times are compared per
// decoded token (decode phase only) and the changes are ranked by how much
// time per token they move.
import type { TimeStat, TraceStats } from './stats.js';

export interface Headline {
  readonly name: string;
  readonly a: number | undefined;
  readonly b: number | undefined;
  /** (b - a) / a, undefined when either side is missing or a is 0. */
  readonly change: number | undefined;
  /** Whether a larger value is better (tokens/s) or worse (TTFT). */
  readonly higherIsBetter: boolean;
}

export interface Change {
  /** "op MUL_MAT", "layer 3", "block attention". */
  readonly key: string;
  /** Wall time per decoded token, ms. */
  readonly aMs: number;
  readonly bMs: number;
  readonly deltaMs: number;
  /** bMs / aMs (Infinity when only in B, 0 when only in A). */
  readonly ratio: number;
}

export interface TraceDiff {
  readonly headlines: readonly Headline[];
  /** Ranked by |deltaMs|, largest first. */
  readonly changes: readonly Change[];
  readonly aDecodeTokens: number;
  readonly bDecodeTokens: number;
  /** Why per-token times could not be compared, if they could not. */
  readonly note: string | undefined;
}

function headline(name: string, a: number | undefined, b: number | undefined, higherIsBetter: boolean): Headline {
  const change = a !== undefined && b !== undefined && a !== 0 && Number.isFinite(a) && Number.isFinite(b) ? (b - a) / a : undefined;
  return { name, a, b, change, higherIsBetter };
}

function perToken(m: ReadonlyMap<string, TimeStat> | undefined, tokens: number, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!m || tokens <= 0) return out;
  for (const [k, t] of m) out.set(`${prefix} ${k}`, t.wallNs / 1e6 / tokens);
  return out;
}

function decodeViews(s: TraceStats): Map<string, number> {
  const n = s.decodeTokens;
  const all = new Map<string, number>();
  for (const [k, v] of perToken(s.opsByPhase.get('decode'), n, 'op')) all.set(k, v);
  // Layers and blocks have no phase split: per token of any kind.
  const calls = s.tokens.length;
  for (const [k, v] of perToken(new Map([...s.layers].map(([l, t]) => [String(l), t])), calls, 'layer')) all.set(k, v);
  for (const [k, v] of perToken(s.blocks as ReadonlyMap<string, TimeStat>, calls, 'block')) all.set(k, v);
  return all;
}

export function diffStats(a: TraceStats, b: TraceStats): TraceDiff {
  const headlines = [
    headline('tokens/s', a.tokensPerS, b.tokensPerS, true),
    headline('TTFT ms', a.ttftMs, b.ttftMs, false),
    headline('TPOT ms', a.tpotMs, b.tpotMs, false),
    headline('decode p50 ms', a.decodeMs?.p50, b.decodeMs?.p50, false),
    headline('decode p90 ms', a.decodeMs?.p90, b.decodeMs?.p90, false),
    headline('node events per graph', a.graphs ? a.nodeRows / a.graphs : undefined, b.graphs ? b.nodeRows / b.graphs : undefined, false),
  ];
  let note: string | undefined;
  if (a.decodeTokens === 0 || b.decodeTokens === 0) note = 'one trace has no decoded tokens: per-token op times are not compared';
  const va = decodeViews(a);
  const vb = decodeViews(b);
  const changes: Change[] = [];
  for (const key of new Set([...va.keys(), ...vb.keys()])) {
    if (note && key.startsWith('op ')) continue;
    const aMs = va.get(key) ?? 0;
    const bMs = vb.get(key) ?? 0;
    changes.push({ key, aMs, bMs, deltaMs: bMs - aMs, ratio: aMs > 0 ? bMs / aMs : bMs > 0 ? Infinity : 1 });
  }
  changes.sort((x, y) => Math.abs(y.deltaMs) - Math.abs(x.deltaMs) || x.key.localeCompare(y.key));
  return { headlines, changes, aDecodeTokens: a.decodeTokens, bDecodeTokens: b.decodeTokens, note };
}

const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

export function diffToJson(d: TraceDiff): Record<string, unknown> {
  return {
    headlines: d.headlines.map((h) => ({ name: h.name, a: finite(h.a), b: finite(h.b), change: finite(h.change), higher_is_better: h.higherIsBetter })),
    changes: d.changes.map((c) => ({ key: c.key, a_ms_per_token: c.aMs, b_ms_per_token: c.bMs, delta_ms: c.deltaMs, ratio: finite(c.ratio) })),
    a_decode_tokens: d.aDecodeTokens,
    b_decode_tokens: d.bDecodeTokens,
    ...(d.note ? { note: d.note } : {}),
  };
}

export function diffLines(d: TraceDiff, names: readonly [string, string], top: number): string[] {
  const f = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
  const pct = (v: number | undefined) => (v === undefined ? '-' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`);
  const out = [`A: ${names[0]}`, `B: ${names[1]}`, ''];
  out.push(`  ${''.padEnd(24)}${'A'.padStart(12)}${'B'.padStart(12)}${'change'.padStart(10)}`);
  for (const h of d.headlines) {
    const better = h.change === undefined || h.change === 0 ? '' : (h.change > 0) === h.higherIsBetter ? '  better' : '  worse';
    out.push(`  ${h.name.padEnd(24)}${f(h.a).padStart(12)}${f(h.b).padStart(12)}${pct(h.change).padStart(10)}${better}`);
  }
  if (d.note) out.push('', `  note: ${d.note}`);
  out.push('', `  largest changes, ms per token (ops: decode tokens only; layers and blocks: every llama_decode call)`);
  out.push(`  ${'what'.padEnd(30)}${'A ms'.padStart(10)}${'B ms'.padStart(10)}${'delta'.padStart(10)}${'B/A'.padStart(8)}`);
  for (const c of d.changes.slice(0, top)) {
    out.push(`  ${c.key.padEnd(30)}${f(c.aMs, 3).padStart(10)}${f(c.bMs, 3).padStart(10)}${`${c.deltaMs >= 0 ? '+' : ''}${f(c.deltaMs, 3)}`.padStart(10)}${f(c.ratio).padStart(8)}`);
  }
  return out;
}
