// profinferd record --moe on the generated MoE model (llama MoE, 8 experts, 2 used per
// token, 4 layers): every ExpertRouting packet is checked against truths the collector
// did not produce:
// - llama-eval-callback, GGML's own debug callback, printing every ffn_moe_topk tensor
//   (the ids each MUL_MAT_ID node reads) right after it is computed: all rows for short
//   shapes, the first and last three rows and the sum of all ids for long ones;
// - the model's preset (n_expert, n_expert_used, n_layer) and ggml.h's op enum;
// - the recorded structure (which nodes are MUL_MAT_ID) and the token events (n_tokens);
// - a second run of the same command at graph level: with fixed weights, prompt and
//   greedy sampling the routing is deterministic, step by step.
// Why not gdb at the end of ggml_graph_compute: by then GGML's allocator has reused the
// ids' memory for later layers (seen here: every layer but the last read as float bits),
// which is also why the collector reads them when each MUL_MAT_ID node starts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { analyzeCommand } from '../../host/src/commands/analyze/analyze.js';
import { summaryCommand } from '../../host/src/commands/summary/summary.js';
import { PRESETS } from '../../host/src/gguf/model_generator.js';
import {
  type DecodedTrace, type GgmlFacts, ggmlFacts, lossByKind, ns, readTrace, requireProfinferd, requireRoot,
  runProfinferd,
} from '../support/collector.js';
import { NLC_ENTRY, generateArgs, nlcInstalled } from '../support/engine.js';
import { llamaBin, runTool } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { v1 } from '../../host/src/proto.js';

const MOE = PRESETS.moe;
const N_EXPERT = MOE.nExpert;
const N_USED = MOE.nExpertUsed;
/** Bytes of ids one BPF chunk carries (PI_EXPERT_CHUNK_BYTES in bpf/profinfer_events.h). */
const CHUNK_BYTES = 8192;

interface Case {
  readonly name: string;
  readonly prompt: string;
  /** llama-simple -n. */
  readonly tokens: number;
}

const CASES: readonly Case[] = [
  // 5 tokens with BOS: llama-eval-callback prints every row.
  { name: 'short prompt', prompt: 'hello world', tokens: 4 },
  // ~350 tokens: a prompt node's ids span two BPF chunks (rows 32 bytes apart).
  { name: 'long prompt', prompt: 'the quick brown fox jumps over the lazy dog '.repeat(15).trim(), tokens: 2 },
  // ~920 tokens: one llama_decode of two ubatches (512 + the rest), two graphs; in the
  // first the last layer computes no output row, its MUL_MAT_ID nodes are empty and
  // GGML skips them: no routing, and no loss.
  { name: 'two-ubatch prompt', prompt: 'the quick brown fox jumps over the lazy dog '.repeat(40).trim(), tokens: 2 },
];

/** One ffn_moe_topk tensor as llama-eval-callback printed it. */
interface TopkPrint {
  readonly layer: number;
  readonly nUsed: number;
  readonly nTokens: number;
  readonly first: readonly (readonly number[])[];
  /** Rows after the "..." line; empty when every row was printed. */
  readonly last: readonly (readonly number[])[];
  readonly sum: number;
}

/** The ffn_moe_topk blocks of llama-eval-callback's output, in order. */
function parseTopk(text: string): TopkPrint[] {
  const lines = text.split('\n');
  const out: TopkPrint[] = [];
  for (let i = 0; i < lines.length; i++) {
    const h = /common_debug_cb_eval:\s+ffn_moe_topk-(\d+) = \(i32\).*= \{(\d+), (\d+), 1, 1\}\s*$/.exec(lines[i] ?? '');
    if (!h) continue;
    const first: number[][] = [];
    const last: number[][] = [];
    let elided = false;
    let sum: number | undefined;
    for (i++; i < lines.length; i++) {
      const line = lines[i] ?? '';
      const s = /^\s*sum = (-?[\d.]+)\s*$/.exec(line);
      if (s) {
        sum = Number(s[1]);
        break;
      }
      if (/^\s*\.\.\.,\s*$/.test(line)) elided = true;
      const row = /^\s*\[\s*(-?\d[\d.]*(?:,\s*-?\d[\d.]*)*)\s*\],?\s*$/.exec(line);
      if (row) (elided ? last : first).push((row[1] as string).split(',').map((v) => Number(v.trim())));
    }
    if (sum === undefined) throw new Error(`ffn_moe_topk-${h[1]}: no "sum =" line in llama-eval-callback's output`);
    out.push({ layer: Number(h[1]), nUsed: Number(h[2]), nTokens: Number(h[3]), first, last, sum });
  }
  return out;
}

/** MUL_MAT_ID nodes GGML's loop runs (not empty: an empty node's dispatcher is never called). */
function moeNodesOf(t: DecodedTrace, g: v1.IGraphEvent): { all: number[]; running: number[] } {
  const nodes = t.structures.get(ns(g.structureId))?.nodes ?? [];
  const all = nodes.flatMap((n, i) => (n.op === opMulMatId ? [i] : []));
  const running = all.filter((i) => (nodes[i]?.ne ?? []).every((v) => Number(v) > 0));
  return { all, running };
}

const routingsOf = (t: DecodedTrace): v1.IExpertRouting[] =>
  t.packets.flatMap((p) => (p.expertRouting ? [p.expertRouting] : []));

/** Rows (tokens) of n_expert_used ids. */
function rowsOf(r: v1.IExpertRouting): number[][] {
  const ids = r.expertIds ?? [];
  const k = r.nExpertUsed ?? 0;
  return Array.from({ length: r.nTokens ?? 0 }, (_, t) => ids.slice(t * k, t * k + k));
}

/** Per graph (in graph order), per layer: the rows of its MUL_MAT_ID nodes (all equal, checked elsewhere). */
function layerRows(t: DecodedTrace): { graphId: bigint; layer: number; rows: number[][] }[] {
  const out: { graphId: bigint; layer: number; rows: number[][] }[] = [];
  for (const g of t.graphs) {
    const mine = routingsOf(t).filter((r) => ns(r.graphId) === ns(g.graphId));
    const layers = [...new Set(mine.map((r) => r.layer ?? -1))].sort((a, b) => a - b);
    for (const layer of layers) {
      const first = mine.filter((r) => r.layer === layer).sort((a, b) => (a.nodeIndex ?? 0) - (b.nodeIndex ?? 0))[0];
      out.push({ graphId: ns(g.graphId), layer, rows: rowsOf(first as v1.IExpertRouting) });
    }
  }
  return out;
}

let facts: GgmlFacts;
let dir: string;
let opMulMatId: number;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  facts = ggmlFacts();
  opMulMatId = facts.opNames.indexOf('MUL_MAT_ID');
  expect(opMulMatId, 'ggml.h has GGML_OP_MUL_MAT_ID').toBeGreaterThan(0);
  dir = mkdtempSync(join(tmpdir(), 'pi-collector-moe-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(CASES)('profinferd record --moe -- llama-simple (moe q8_0, $name)', (c) => {
  let trace: DecodedTrace;
  let graphLevel: DecodedTrace;
  let oracle: TopkPrint[];

  beforeAll(async () => {
    const model = ensureModel('moe', 'q8_0');
    const bin = llamaBin('llama-simple');
    const args = ['-m', model, '-n', String(c.tokens), c.prompt];
    const out = join(dir, `${c.name.replace(/ /g, '-')}.pftrace`);
    const run = await runProfinferd(['record', '-o', out, '--moe', '--', bin, ...args]);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    trace = await readTrace(out);
    const outGraph = join(dir, `${c.name.replace(/ /g, '-')}-graph.pftrace`);
    const runGraph = await runProfinferd(['record', '-o', outGraph, '--level', 'graph', '--moe', '--', bin, ...args]);
    expect(runGraph.code, runGraph.stderr.slice(-3000)).toBe(0);
    graphLevel = await readTrace(outGraph);
    // The prompt only (llama-eval-callback does not generate), 2 threads like llama-simple's default here.
    const ev = await runTool(llamaBin('llama-eval-callback'), ['-m', model, '-p', c.prompt, '-n', '1', '--seed', '1']);
    expect(ev.code, ev.stderr.slice(-3000)).toBe(0);
    // An empty ffn_moe_topk (a ubatch whose last layer computes no row) has no routing: GGML skips its nodes.
    oracle = parseTopk(ev.stdout + ev.stderr).filter((o) => o.nTokens > 0);
    expect(oracle.length, 'llama-eval-callback printed ffn_moe_topk tensors').toBeGreaterThan(0);
  });

  it('writes one ExpertRouting per MUL_MAT_ID node of every graph, and loses none', () => {
    const routings = routingsOf(trace);
    expect(trace.graphs.length).toBeGreaterThan(0);
    for (const g of trace.graphs) {
      const s = trace.structures.get(ns(g.structureId));
      expect(s, `graph ${ns(g.graphId)} has its structure`).toBeDefined();
      const { all, running } = moeNodesOf(trace, g);
      // gate, up and down per layer in this model; empty only in the last layer
      expect(all.length).toBe(3 * MOE.nLayer);
      expect(all.length - running.length).toBeLessThanOrEqual(3);
      const mine = routings.filter((r) => ns(r.graphId) === ns(g.graphId));
      expect(mine.map((r) => r.nodeIndex).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(running);
      for (const r of mine) {
        const node = s?.nodes?.[r.nodeIndex ?? -1];
        const name = trace.strings.get(node?.nameIid ?? 0) ?? '';
        expect(name).toMatch(/^ffn_moe_(gate|up|down)-\d+$/);
        expect(r.layer, name).toBe(Number(/-(\d+)$/.exec(name)?.[1]));
        expect(r.pid).toBe(g.pid);
      }
    }
    const lost = lossByKind(trace.sessionEnd?.totals?.lost);
    const recorded = lossByKind(trace.sessionEnd?.totals?.recorded);
    expect(lost[v1.EventKind.EVENT_KIND_EXPERT] ?? 0n).toBe(0n);
    expect(recorded[v1.EventKind.EVENT_KIND_EXPERT]).toBe(BigInt(routings.length));
  });

  it('has ids in [0, n_expert), n_expert_used distinct per token, the same for every node of a layer', () => {
    for (const g of trace.graphs) {
      const mine = routingsOf(trace).filter((r) => ns(r.graphId) === ns(g.graphId));
      const layers = mine.length === 3 * MOE.nLayer ? MOE.nLayer : MOE.nLayer - 1;
      expect(new Set(mine.map((r) => r.layer))).toEqual(new Set(Array.from({ length: layers }, (_, i) => i)));
      for (const r of mine) {
        expect(r.nExpertUsed).toBe(N_USED);
        expect(r.expertIds?.length).toBe(N_USED * (r.nTokens ?? 0));
        for (const row of rowsOf(r)) {
          expect(new Set(row).size, `graph ${ns(g.graphId)} layer ${r.layer}: ${row}`).toBe(N_USED);
          for (const id of row) expect(id >= 0 && id < N_EXPERT, `id ${id}`).toBe(true);
        }
        const sameLayer = mine.filter((o) => o.layer === r.layer);
        for (const o of sameLayer) expect(o.expertIds).toEqual(r.expertIds);
      }
    }
  });

  it("routes the token event's n_tokens through every layer (the last: the one output llama-simple asks for)", () => {
    const inside = new Map<bigint, v1.IGraphEvent[]>(); // token seq -> its graphs (ubatches)
    for (const g of trace.graphs) {
      const start = ns(g.startNs);
      const tok = trace.tokens.find((k) => ns(k.startNs) <= start && start <= ns(k.startNs) + ns(k.durationNs));
      expect(tok, `graph ${ns(g.graphId)} runs inside a token`).toBeDefined();
      inside.set(ns(tok?.seq), [...(inside.get(ns(tok?.seq)) ?? []), g]);
    }
    for (const tok of trace.tokens) {
      const graphs = inside.get(ns(tok.seq)) ?? [];
      for (let layer = 0; layer < MOE.nLayer; layer++) {
        const routed = graphs
          .flatMap((g) => routingsOf(trace).filter((r) => ns(r.graphId) === ns(g.graphId) && r.layer === layer))
          .filter((r, _, all) => r.nodeIndex === Math.min(...all.filter((o) => ns(o.graphId) === ns(r.graphId)).map((o) => o.nodeIndex ?? 0)))
          .reduce((sum, r) => sum + (r.nTokens ?? 0), 0);
        expect(routed, `token ${ns(tok.seq)} layer ${layer}`).toBe(layer === MOE.nLayer - 1 ? 1 : tok.nTokens);
      }
    }
    expect(trace.tokens.filter((k) => k.nTokens === 1).length).toBe(c.tokens - 1); // decode steps were checked
    if (c.name === 'two-ubatch prompt') expect(inside.get(ns(trace.tokens[0]?.seq))?.length, 'prompt graphs').toBe(2);
  });

  it('equals what llama-eval-callback prints for each ffn_moe_topk tensor of the prompt', () => {
    const mine = layerRows(trace).slice(0, oracle.length);
    expect(mine.length).toBe(oracle.length);
    let chunked = false;
    oracle.forEach((o, i) => {
      const m = mine[i] as (typeof mine)[number];
      expect(m.layer, `block ${i}`).toBe(o.layer);
      expect(m.rows.length, `layer ${o.layer}: n_tokens`).toBe(o.nTokens);
      expect(o.nUsed).toBe(N_USED);
      expect(m.rows.slice(0, o.first.length), `layer ${o.layer}: first rows`).toEqual(o.first);
      expect(m.rows.slice(m.rows.length - o.last.length), `layer ${o.layer}: last rows`).toEqual(o.last);
      if (!o.last.length) expect(m.rows.length).toBe(o.first.length);
      expect(m.rows.flat().reduce((a, b) => a + b, 0), `layer ${o.layer}: sum of ids`).toBe(o.sum);
      chunked ||= o.nTokens * N_EXPERT * 4 > CHUNK_BYTES;
    });
    if (c.name !== 'short prompt') expect(chunked, 'some node needed more than one chunk').toBe(true);
  });

  it('is what profinfer-host analyze --json and summary --json count per layer and expert', async () => {
    // Counted here from the packets: per graph and layer the gate node's ids.
    const expected = new Map<number, number[]>();
    for (const { layer, rows } of layerRows(trace)) {
      const counts = expected.get(layer) ?? new Array<number>(N_EXPERT).fill(0);
      for (const id of rows.flat()) counts[id] = (counts[id] ?? 0) + 1;
      expected.set(layer, counts);
    }
    const capture = async (f: () => Promise<number>): Promise<Record<string, unknown>> => {
      let text = '';
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        text += String(chunk);
        return true;
      });
      try {
        expect(await f()).toBe(0);
      } finally {
        spy.mockRestore();
      }
      return JSON.parse(text) as Record<string, unknown>;
    };
    const path = join(dir, `${c.name.replace(/ /g, '-')}.pftrace`);
    const analyzed = await capture(() => analyzeCommand({ trace: path, top: 5, json: true, peaks: '100,20' }));
    const summary = await capture(() => summaryCommand({ trace: path, top: 5, json: true }));
    type Layer = { layer: number; n_expert: number; n_expert_from_weights: boolean; counts: number[]; tokens: number };
    for (const report of [analyzed.experts, summary.experts] as { layers: Layer[]; routings: number; inconsistent: number }[]) {
      expect(report.routings).toBe(routingsOf(trace).length);
      expect(report.inconsistent).toBe(0);
      expect(new Map(report.layers.map((l) => [l.layer, l.counts.concat(new Array(N_EXPERT - l.counts.length).fill(0))]))).toEqual(expected);
    }
    const a = analyzed.experts as { layers: Layer[]; tokens: { graph_id: string }[] };
    expect(a.layers.every((l) => l.n_expert === N_EXPERT && l.n_expert_from_weights)).toBe(true);
    expect(a.tokens.length).toBe(layerRows(trace).reduce((s, l) => s + l.rows.length, 0));
  });

  it('gives the same routing, step by step, when recorded at graph level', () => {
    expect(graphLevel.summary.level).toBe('graph');
    const strip = (t: DecodedTrace): unknown[] => layerRows(t).map(({ layer, rows }) => ({ layer, rows }));
    expect(strip(graphLevel)).toEqual(strip(trace));
    expect(routingsOf(graphLevel).length).toBe(routingsOf(trace).length);
  });
});

// node-llama-cpp: shared libraries, the CPU variant dlopen'ed at run time (GGML_OP_NAME
// in libggml-base, the compute loop in libggml-cpu-*). Same llama.cpp source, same model,
// same tokens, greedy: the same routing as llama-simple, step by step.
describe('profinferd record --moe -- node nlc_generate.mjs (node-llama-cpp, moe q8_0)', () => {
  const PROMPT = 'hello world';
  const TOKENS = 4;
  let nlc: DecodedTrace;
  let simple: DecodedTrace;

  beforeAll(async () => {
    if (!nlcInstalled()) throw new Error(`node-llama-cpp is not installed at ${NLC_ENTRY}: run \`bash scripts/setup.sh\``);
    const model = ensureModel('moe', 'q8_0');
    const out = join(dir, 'nlc.pftrace');
    const args = generateArgs({ model, tokens: TOKENS, threads: 2, prompt: PROMPT });
    const run = await runProfinferd(['record', '-o', out, '--moe', '--', process.execPath, ...args]);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    nlc = await readTrace(out);
    const outSimple = join(dir, 'nlc-simple.pftrace');
    const runSimple = await runProfinferd(['record', '-o', outSimple, '--moe', '--', llamaBin('llama-simple'), '-m', model, '-n', String(TOKENS), PROMPT]);
    expect(runSimple.code, runSimple.stderr.slice(-3000)).toBe(0);
    simple = await readTrace(outSimple);
  });

  it('writes one ExpertRouting per MUL_MAT_ID node per graph, valid ids, and loses none', () => {
    expect(nlc.graphs.length).toBe(TOKENS);
    for (const g of nlc.graphs) {
      const s = nlc.structures.get(ns(g.structureId));
      const moeNodes = (s?.nodes ?? []).flatMap((n, i) => (n.op === opMulMatId ? [i] : []));
      expect(moeNodes.length).toBe(3 * MOE.nLayer);
      const mine = routingsOf(nlc).filter((r) => ns(r.graphId) === ns(g.graphId));
      expect(mine.map((r) => r.nodeIndex).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(moeNodes);
      for (const r of mine)
        for (const row of rowsOf(r)) {
          expect(new Set(row).size).toBe(N_USED);
          expect(row.every((id) => id >= 0 && id < N_EXPERT)).toBe(true);
        }
    }
    expect(lossByKind(nlc.sessionEnd?.totals?.lost)[v1.EventKind.EVENT_KIND_EXPERT] ?? 0n).toBe(0n);
  });

  it('routes every token of every step as llama-simple does', () => {
    const strip = (t: DecodedTrace): unknown[] => layerRows(t).map(({ layer, rows }) => ({ layer, rows }));
    expect(strip(nlc)).toEqual(strip(simple));
  });
});

describe('profinferd record --moe, refused', () => {
  it('at token level, with a message naming --moe', async () => {
    const run = await runProfinferd(['record', '-o', join(dir, 'refused.pftrace'), '--level', 'token', '--moe', '--', 'true']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--moe needs graph or node level/);
  });
});
