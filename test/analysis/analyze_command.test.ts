// `profinfer-host analyze`: tables, --json, --dag (DOT and JSON), --peaks.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { analyzeCommand, parsePeaks, PeaksArgumentError } from '../../host/src/commands/analyze/analyze.js';

const here = dirname(fileURLToPath(import.meta.url));
const trace = join(here, 'fixtures', 'moe-q8_0.pftrace');
const out = mkdtempSync(join(tmpdir(), 'analyze-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

let stdout = '';
beforeEach(() => {
  stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('analyze', () => {
  test('prints the tables and writes the DOT of the largest graph', async () => {
    const dot = join(out, 'g.dot');
    expect(await analyzeCommand({ trace, top: 5, peaks: '100,20', dag: dot })).toBe(0);
    expect(stdout).toMatch(/graph 1: 194 nodes .* layers 0\.\.3, 1 computes; critical path/);
    expect(stdout).toMatch(/top operators/);
    expect(stdout).toMatch(/MUL_MAT_ID/);
    expect(stdout).toMatch(/\n  moe +\d+/);
    expect(stdout).toMatch(/roofline: peaks 100\.0 GFLOP\/s, 20\.0 GB\/s \(user\); ridge 5\.00 flop\/byte/);
    expect(stdout).toMatch(/threads\n/);
    const text = readFileSync(dot, 'utf8');
    expect(text).toMatch(/^digraph "graph_2"/); // the decode graph: as large, computed most
    expect(text.match(/subgraph cluster_layer_/g)).toHaveLength(4);
  });

  test('--json and a JSON DAG of every graph', async () => {
    const json = join(out, 'g.json');
    await analyzeCommand({ trace, top: 5, json: true, peaks: '100,20', dag: json });
    const r = JSON.parse(stdout);
    expect(r.dags.map((d: { layers: number[] }) => d.layers)).toEqual([[0, 1, 2, 3], [0, 1, 2, 3]]);
    expect(r.stats.decode_tokens).toBe(7);
    expect(r.stats.ops.MUL_MAT_ID.count).toBe(96);
    expect(r.roofline.peaks).toEqual({ gflops: 100, gbps: 20, source: 'user' });
    const dags = JSON.parse(readFileSync(json, 'utf8'));
    expect(dags).toHaveLength(2);
    expect(dags[0].nodes[0]).toMatchObject({ op: 'GET_ROWS', name: 'embd', block: 'input' });
  });

  test('--peaks must be two positive numbers', () => {
    expect(parsePeaks('200, 40.5')).toEqual({ gflops: 200, gbps: 40.5, source: 'user' });
    for (const bad of ['200', '200,0', 'a,b', '1,2,3', '-1,2']) {
      expect(() => parsePeaks(bad)).toThrow(PeaksArgumentError);
    }
  });

  test('a missing file fails with one clear line', async () => {
    await expect(analyzeCommand({ trace: join(out, 'nope.pftrace'), top: 5, peaks: '1,1' })).rejects.toThrow(
      /cannot read .*nope\.pftrace: no such file/,
    );
  });
});
