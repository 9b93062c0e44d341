// profinfer-host export / open on a real recording: profinferd records
// llama-simple on the tiny model, and the exported Perfetto trace is read back
// with our Perfetto schema (perfetto_check.ts) and compared, slice by slice,
// with the packets of the ProfInfer trace, decoded here independently of the
// exporter's timeline. The Chrome JSON export must hold the same slices, and
// `open --print-url` must serve the same bytes to an HTTP client the way
// ui.perfetto.dev fetches them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport, type ExportResult } from '../../host/src/commands/export/export.js';
import { checkPerfettoTrace, type CheckedSlice, type CheckedTrace } from '../../host/src/export/perfetto_check.js';
import { longToBigInt } from '../../host/src/proto.js';
import {
  REPO_ROOT, type DecodedTrace, batchRows, readTrace, requireProfinferd, requireRoot, runProfinferd,
} from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

let dir: string;
let source: DecodedTrace;
let tracePath: string;
let perfetto: { result: ExportResult; bytes: Uint8Array; trace: CheckedTrace };
let json: { result: ExportResult; text: string };

beforeAll(async () => {
  requireRoot();
  requireProfinferd();
  dir = mkdtempSync(join(tmpdir(), 'pi-export-'));
  tracePath = join(dir, 'tiny.pftrace');
  const run = await runProfinferd(['record', '-o', tracePath, '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '8', 'Hello my name is']);
  expect(run.code, run.stderr.slice(-3000)).toBe(0);
  source = await readTrace(tracePath);
  expect(source.error).toBeUndefined();

  const pOut = join(dir, 'tiny.perfetto-trace');
  const pResult = await runExport({ trace: tracePath, output: pOut, format: 'perfetto', progress: false });
  const bytes = new Uint8Array(readFileSync(pOut));
  perfetto = { result: pResult, bytes, trace: checkPerfettoTrace(bytes) };
  const jOut = join(dir, 'tiny.json');
  json = { result: await runExport({ trace: tracePath, output: jOut, format: 'json', progress: false }), text: readFileSync(jOut, 'utf8') };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const kindOf = (s: CheckedSlice): 'token' | 'graph' | 'node' =>
  s.name.startsWith('llama_decode') ? 'token' : s.name.startsWith('graph') ? 'graph' : 'node';
const key = (tid: number | undefined, start: bigint, dur: bigint): string => `${tid} ${start} ${dur}`;

describe('export --format perfetto (tiny model, llama-simple -n 8)', () => {
  it('has one slice per token, graph and node event, with the source times and durations', () => {
    const slices = perfetto.trace.slices;
    const tokens = slices.filter((s) => kindOf(s) === 'token');
    const graphs = slices.filter((s) => kindOf(s) === 'graph');
    const nodes = slices.filter((s) => kindOf(s) === 'node');
    expect(tokens.map((s) => key(s.tid, s.start, s.end - s.start)).sort()).toEqual(
      source.tokens.map((t) => key(t.tid ?? 0, longToBigInt(t.startNs), longToBigInt(t.durationNs))).sort(),
    );
    expect(graphs.map((s) => key(s.tid, s.start, s.end - s.start)).sort()).toEqual(
      source.graphs.map((g) => key(g.tid ?? 0, longToBigInt(g.startNs), longToBigInt(g.durationNs))).sort(),
    );
    const rows = [...source.batches.values()].flat().flatMap((b) => batchRows(b).map((r) => key(b.tid ?? 0, r.startNs, r.computeNs)));
    expect(rows.length).toBe(source.summary.node_events);
    expect(nodes.length).toBe(rows.length);
    expect(nodes.map((s) => key(s.tid, s.start, s.end - s.start)).sort()).toEqual(rows.sort());
    expect(perfetto.result).toMatchObject({ tokens: source.tokens.length, graphs: source.graphs.length, node_events: rows.length });
    expect(source.summary.threads).toBeGreaterThan(1); // worker threads are drawn too
    expect(new Set(nodes.map((s) => s.tid)).size).toBe(source.summary.threads);
  });

  it('nests every node slice in its graph and token', () => {
    const graphs = new Map(perfetto.trace.slices.filter((s) => kindOf(s) === 'graph').map((g) => [g.args['graph_id'], g]));
    const tokens = perfetto.trace.slices.filter((s) => kindOf(s) === 'token');
    for (const n of perfetto.trace.slices.filter((s) => kindOf(s) === 'node')) {
      const g = graphs.get(n.args['graph_id']);
      expect(g, `graph ${n.args['graph_id']} of node ${n.name}`).toBeDefined();
      if (g === undefined) continue;
      const t = tokens.find((k) => k.pid === g.pid && k.start <= g.start && g.end <= k.end);
      expect(t, `token around graph ${g.args['graph_id']}`).toBeDefined();
      expect(g.start <= n.start && n.end <= g.end, `node ${n.name} (${n.start}..${n.end}) inside graph ${g.start}..${g.end}`).toBe(true);
      if (n.tid === g.tid) {
        // On the thread that called llama_decode, Perfetto's own nesting says so.
        expect(n.depth).toBe(2);
        expect(n.parent).toBe(g);
        expect(g.parent).toBe(t);
      } else {
        expect(n.depth).toBe(0);
      }
    }
  });

  it('resolves op, type, shape and tensor name of every node from the graph structure', () => {
    const engine = [...source.engines.values()][0];
    const ops = new Set([...(engine?.opNames ?? []), ...(engine?.unaryOpNames ?? []), ...(engine?.gluOpNames ?? [])]);
    const nodes = perfetto.trace.slices.filter((s) => kindOf(s) === 'node');
    for (const n of nodes) {
      expect(ops.has(String(n.args['op'])), `op ${n.args['op']}`).toBe(true);
      expect(n.args['shape']).toMatch(/^\[\d+(,\d+)*\]$/);
      expect(n.args['type']).toMatch(/^[a-z]/);
      expect(typeof n.args['barrier_wait_ns']).toBe('number');
    }
    expect(nodes.filter((n) => n.args['name'] !== '').length).toBeGreaterThan(nodes.length / 2);
    expect(nodes.some((n) => n.args['op'] === 'MUL_MAT' && typeof n.args['layer'] === 'number')).toBe(true);
  });

  it('has a process track, thread tracks with names, and a tokens/s counter per call', () => {
    const tracks = [...perfetto.trace.tracks.values()];
    const pid = source.processes[0]?.pid;
    expect(tracks.find((t) => t.pid === pid && t.tid === undefined && !t.counter)?.name).toBe('llama-simple');
    for (const th of source.threads) expect(tracks.find((t) => t.tid === th.tid)?.name).toBe(th.name);
    const tps = perfetto.trace.counters.filter((c) => c.name.startsWith('tokens/s'));
    expect(tps).toHaveLength(source.tokens.length);
    expect(tps.every((c) => c.value > 0)).toBe(true);
  });
});

describe('export --flows', () => {
  it('draws the DAG edges of one call as flows between node slices of its thread', async () => {
    const out = join(dir, 'flows.perfetto-trace');
    await runExport({ trace: tracePath, output: out, format: 'perfetto', progress: false, flows: 2 });
    const trace = checkPerfettoTrace(new Uint8Array(readFileSync(out)));
    const token = trace.slices.find((s) => kindOf(s) === 'token' && s.args['seq'] === 2);
    expect(token).toBeDefined();
    const starts = new Map<string, CheckedSlice>();
    for (const s of trace.slices) for (const id of s.flowOut) starts.set(id, s);
    const ends = trace.slices.flatMap((s) => s.flowIn.map((id) => [id, s] as const));
    expect(ends.length).toBeGreaterThan(source.summary.nodes / source.graphs.length / 2);
    expect(ends.length).toBe(starts.size);
    for (const [id, consumer] of ends) {
      const producer = starts.get(id);
      expect(producer, `flow ${id}`).toBeDefined();
      for (const s of [producer, consumer]) {
        expect(s?.tid).toBe(token?.tid);
        expect(s?.parent?.parent).toBe(token);
      }
      expect(Number(producer?.args['node_index'])).toBeLessThan(Number(consumer.args['node_index']));
      expect((producer?.start ?? 0n) < consumer.start).toBe(true);
    }
  });
});

describe('export --format json', () => {
  it('parses and holds the same slices as the Perfetto export', () => {
    const events = (JSON.parse(json.text) as { traceEvents: { ph: string; tid: number; ts: number; dur: number }[] }).traceEvents;
    const us = (v: number): bigint => BigInt(Math.round(v * 1000));
    expect(events.filter((e) => e.ph === 'X').map((e) => key(e.tid, us(e.ts), us(e.dur))).sort()).toEqual(
      perfetto.trace.slices.map((s) => key(s.tid, s.start, s.end - s.start)).sort(),
    );
  });

  it('is larger than the Perfetto export', () => {
    expect(perfetto.result.bytes).toBeLessThan(json.result.bytes / 2);
  });
});

describe('open --print-url', () => {
  it('serves the Perfetto bytes once on 127.0.0.1 with the headers ui.perfetto.dev needs, then exits', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'host/src/cli.ts'), 'open', tracePath, '--print-url', '--port', '0'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!/url=(\S+)&/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const url = /^(https:\/\/ui\.perfetto\.dev\/#!\/\?url=(http:\/\/127\.0\.0\.1:\d+\/tiny\.perfetto-trace)&\S*)$/m.exec(stdout);
      expect(url, `stdout: ${stdout}\nstderr: ${stderr}`).not.toBeNull();
      const res = await fetch(url?.[2] ?? '', { headers: { Origin: 'https://ui.perfetto.dev' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://ui.perfetto.dev');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(perfetto.bytes))).toBe(true);
      expect(await exited, stderr).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
