// SessionConfig.op_filter (--config): node rows of the listed ops only. Checked
// against the same greedy run recorded without a filter: the kept ops have
// exactly the rows they had there, no other op has any, and the loss totals
// count what was written (filtered rows are not lost: the config says so).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, type v1 } from '../../host/src/proto.js';
import { type DecodedTrace, batchRows, lossByKind, ns, readTrace, requireProfinferd, requireRoot, runProfinferd } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { opOf } from './invariants.js';

const KEEP = ['MUL_MAT', 'SWIGLU'];
let dir: string;
let all: DecodedTrace;
let filtered: DecodedTrace;

/** A node's op, UNARY / GLU by their function (as op_filter matches them). */
function opName(t: DecodedTrace, pid: number, s: v1.IGraphStructure | undefined, i: number): string {
  const op = opOf(t, pid, s, i);
  const e = t.engines.get(pid);
  const sub = s?.nodes?.[i]?.subOp ?? 0;
  if (op === 'UNARY') return e?.unaryOpNames?.[sub] ?? op;
  if (op === 'GLU') return e?.gluOpNames?.[sub] ?? op;
  return op;
}

/** Node rows per op name (UNARY / GLU by their function). */
function rowsByOp(t: DecodedTrace): Map<string, number> {
  const out = new Map<string, number>();
  for (const [graphId, batches] of t.batches) {
    const g = t.graphs.find((x) => ns(x.graphId) === graphId);
    const s = g ? t.structures.get(ns(g.structureId)) : undefined;
    for (const b of batches)
      for (const r of batchRows(b)) {
        const op = opName(t, b.pid ?? 0, s, r.nodeIndex);
        out.set(op, (out.get(op) ?? 0) + 1);
      }
  }
  return out;
}

beforeAll(async () => {
  requireRoot();
  requireProfinferd();
  dir = mkdtempSync(join(tmpdir(), 'pi-opfilter-'));
  const cmd = ['--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '6', 'Hello my name is'];
  const config = join(dir, 'session.json');
  writeFileSync(config, JSON.stringify({ level: 'node', opFilter: KEEP }));
  const a = await runProfinferd(['record', '-o', join(dir, 'all.pftrace'), ...cmd]);
  const f = await runProfinferd(['record', '-o', join(dir, 'filtered.pftrace'), '--config', config, ...cmd]);
  expect(a.code, a.stderr.slice(-2000)).toBe(0);
  expect(f.code, f.stderr.slice(-2000)).toBe(0);
  expect(f.stderr).toMatch(/^profinferd: op filter: \d+ node rows of other ops not written/m);
  all = await readTrace(join(dir, 'all.pftrace'));
  filtered = await readTrace(join(dir, 'filtered.pftrace'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('op_filter', () => {
  it('keeps exactly the rows of the listed ops, and only those', () => {
    const before = rowsByOp(all);
    const after = rowsByOp(filtered);
    expect([...after.keys()].sort()).toEqual(KEEP.filter((k) => (before.get(k) ?? 0) > 0).sort());
    for (const op of KEEP) expect(after.get(op) ?? 0, op).toBe(before.get(op) ?? 0);
    expect(before.size).toBeGreaterThan(after.size);
  });

  it('says so in the session config and counts what it wrote, with nothing lost', () => {
    expect(filtered.session?.config?.opFilter).toEqual(KEEP);
    const rows = [...rowsByOp(filtered).values()].reduce((a, n) => a + n, 0);
    expect(Number(lossByKind(filtered.sessionEnd?.totals?.recorded)[EventKind.EVENT_KIND_NODE])).toBe(rows);
    expect(Object.values(lossByKind(filtered.sessionEnd?.totals?.lost)).reduce((a, n) => a + n, 0n)).toBe(0n);
    expect(filtered.tokens.length).toBe(all.tokens.length);
  });
});
