import { describe, expect, it } from 'vitest';
import { diffLines, diffStats, diffToJson } from './diff.js';
import type { TimeStat, TraceStats } from './stats.js';

const t = (wallMs: number): TimeStat => ({ count: 1, wallNs: wallMs * 1e6, computeNs: wallMs * 1e6, barrierNs: 0 });

function stats(o: { decode: number; ops: Record<string, number>; tps?: number; ttft?: number; tpot?: number; graphs?: number; rows?: number }): TraceStats {
  const ops = new Map(Object.entries(o.ops).map(([k, v]) => [k, t(v)]));
  const tokens = Array.from({ length: o.decode + 1 }, (_, i) => ({ seq: i + 1, phase: i === 0 ? 'prefill' : 'decode' }));
  return {
    tokens,
    prefillTokens: 5,
    decodeTokens: o.decode,
    ttftMs: o.ttft,
    tpotMs: o.tpot,
    tokensPerS: o.tps,
    decodeMs: undefined,
    graphs: o.graphs ?? 0,
    nodeRows: o.rows ?? 0,
    ops,
    opsByPhase: new Map([['decode', ops]]),
    layers: new Map([[0, t(10)]]),
    blocks: new Map(),
  } as unknown as TraceStats;
}

describe('diffStats', () => {
  it('compares op time per decoded token, ranked by how much it moves', () => {
    // A: 10 decoded tokens, MUL_MAT 100 ms -> 10 ms/token; B: 20 tokens, 100 ms -> 5 ms/token.
    const a = stats({ decode: 10, ops: { MUL_MAT: 100, ADD: 10 }, tps: 20, ttft: 50, tpot: 50 });
    const b = stats({ decode: 20, ops: { MUL_MAT: 100, ADD: 30, ROPE: 4 }, tps: 25, ttft: 60, tpot: 40 });
    const d = diffStats(a, b);
    const byKey = new Map(d.changes.map((c) => [c.key, c]));
    expect(byKey.get('op MUL_MAT')).toMatchObject({ aMs: 10, bMs: 5, deltaMs: -5, ratio: 0.5 });
    expect(byKey.get('op ADD')).toMatchObject({ aMs: 1, bMs: 1.5 });
    expect(byKey.get('op ROPE')).toMatchObject({ aMs: 0, bMs: 0.2, ratio: Infinity });
    expect(d.changes[0]?.key).toBe('op MUL_MAT');
    // Layers are per llama_decode call: 11 and 21 calls.
    expect(byKey.get('layer 0')?.aMs).toBeCloseTo(10 / 11);
    const tps = d.headlines.find((h) => h.name === 'tokens/s');
    expect(tps?.change).toBeCloseTo(0.25);
    expect(diffLines(d, ['a', 'b'], 5).find((l) => l.includes('tokens/s'))).toMatch(/\+25\.0%\s+better$/);
    expect(diffLines(d, ['a', 'b'], 5).find((l) => l.includes('TTFT'))).toMatch(/\+20\.0%\s+worse$/);
    const json = diffToJson(d) as { changes: { key: string; ratio: number | null }[] };
    expect(json.changes.find((c) => c.key === 'op ROPE')?.ratio).toBeNull();
  });

  it('does not compare per-token op times when a trace decoded nothing', () => {
    const d = diffStats(stats({ decode: 0, ops: { MUL_MAT: 100 } }), stats({ decode: 4, ops: { MUL_MAT: 100 } }));
    expect(d.note).toMatch(/no decoded tokens/);
    expect(d.changes.some((c) => c.key.startsWith('op '))).toBe(false);
    expect(d.headlines.find((h) => h.name === 'tokens/s')?.change).toBeUndefined();
  });
});
