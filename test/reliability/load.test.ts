// profinferd record under load, bounded for CI: a long run at node level and a
// high event rate (llama-completion generating without end on the tiny model,
// context shifting in 256 tokens, ~300k node events/s) with the collector's
// VmRSS sampled every second; 16 inference threads on this 2-core machine;
// two collectors on two targets at once. Each: nothing lost, the trace
// complete (every node of every graph on every thread, units x threads from
// the recorded structure), and each trace holding its own target only.
// PROFINFER_LOAD_S sets the long run's length (default 60 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecodedTrace, type GgmlFacts, type Proc, type ProcResult, ggmlFacts, ns, pidAlive, planGraph, readTrace, requireProfinferd,
  requireRoot, startProfinferd,
} from '../support/collector.js';
import { llamaBin, parseSimpleDecoded } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { expectNodeAccounting, expectNoLoss, expectTokenSequence } from '../collector/invariants.js';
import { EventKind, countsOf, rssKiB } from './fault_support.js';

const PROMPT = 'Hello my name is';
const LOAD_S = Number(process.env.PROFINFER_LOAD_S ?? 60);
/** VmRSS may grow this much from the 10 s sample to the end of the run: "flat". */
const RSS_GROWTH_BOUND_KIB = 1024;
/** From here on memory must stay flat: by then the collector's cache of graph
 * structures (64 kept, least recently used evicted) is full; a context shift
 * makes llama.cpp rebuild its graphs and BPF capture a few per second. */
const FLAT_FROM_S = Math.min(20, Math.floor(LOAD_S / 3));

let dir: string;
let model: string;
let facts: GgmlFacts;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  model = ensureModel('tiny', 'q8_0');
  facts = ggmlFacts();
  dir = mkdtempSync(join(tmpdir(), 'pi-rel-load-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function stopTarget(p: Proc, target: number): void {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  if (pidAlive(target)) process.kill(target, 'SIGKILL'); // started by profinferd for this test
}

/** Rows per graph: every graph has units x threads rows, but `cut` (ended by the target's death) may have fewer. */
function expectEveryNode(t: DecodedTrace, cut: Set<bigint>): number {
  const problems: string[] = [];
  let rows = 0;
  const unitsByStructure = new Map<bigint, number>();
  for (const g of t.graphs) {
    const sid = ns(g.structureId);
    let units = unitsByStructure.get(sid);
    if (units === undefined) {
      const s = t.structures.get(sid);
      if (!s) {
        problems.push(`graph ${ns(g.graphId)}: no structure ${sid}`);
        continue;
      }
      units = planGraph(s, facts, t.engines.get(g.pid ?? 0)?.opNames ?? []).units.length;
      unitsByStructure.set(sid, units);
    }
    const batches = t.batches.get(ns(g.graphId)) ?? [];
    const perThread = batches.map((b) => (b.nodeIndexDelta ?? []).length);
    rows += perThread.reduce((a, n) => a + n, 0);
    if (cut.has(ns(g.graphId))) continue;
    if (batches.length !== g.nThreads) problems.push(`graph ${ns(g.graphId)}: ${batches.length} batches for ${g.nThreads} threads`);
    if (perThread.some((n) => n !== units)) problems.push(`graph ${ns(g.graphId)}: rows per thread ${perThread.join()} != ${units}`);
  }
  expect(problems, problems.slice(0, 10).join('\n')).toEqual([]);
  expect(countsOf(t, EventKind.EVENT_KIND_NODE).recorded).toBe(rows);
  return rows;
}

describe(`a ${LOAD_S} s run at node level and a high event rate`, () => {
  let run: ProcResult;
  let trace: DecodedTrace;
  const rss: { s: number; kib: number }[] = [];

  beforeAll(async () => {
    const out = join(dir, 'long.pftrace');
    const p = startProfinferd(
      [
        'record', '-o', out, '--', llamaBin('llama-completion'), '-m', model, '-c', '256', '--context-shift', '--ignore-eos',
        '-n', '10000000', '-t', '4', '-p', PROMPT, '-no-cnv', '--no-warmup',
      ],
      { timeoutMs: (LOAD_S + 120) * 1000 },
    );
    const target = Number((await p.waitFor('stderr', /^profinferd: recording process (\d+)/m))[1]);
    try {
      const t0 = performance.now();
      while (performance.now() - t0 < LOAD_S * 1000) {
        await new Promise((r) => setTimeout(r, 1000));
        const kib = rssKiB(p.pid);
        expect(kib, `profinferd exited during the run:\n${p.stderr.slice(-2000)}`).toBeDefined();
        expect(pidAlive(target), `the target ended before ${LOAD_S} s:\n${p.stderr.slice(-2000)}`).toBe(true);
        rss.push({ s: (performance.now() - t0) / 1000, kib: kib ?? 0 });
      }
      process.kill(target, 'SIGTERM'); // the session ends with its target
      run = await p.done;
      trace = await readTrace(out);
      const atStart = rss.find((x) => x.s >= FLAT_FROM_S) ?? rss[0];
      console.info(
        `load: ${LOAD_S} s, ${trace.tokens.length} tokens, ${trace.summary.node_events} node events, ` +
          `${trace.structures.size} structures; VmRSS ${atStart?.kib} KiB at ${atStart?.s.toFixed(0)} s -> ` +
          `${rss[rss.length - 1]?.kib} KiB at ${rss[rss.length - 1]?.s.toFixed(0)} s`,
      );
    } finally {
      stopTarget(p, target);
    }
  }, (LOAD_S + 180) * 1000);

  it('ends with its target, having lost nothing', () => {
    expect(run.stderr).toMatch(/^profinferd: target exited\. Recorded \d+ tokens/m);
    expectNoLoss(trace);
  });

  it('leaves a complete trace: every llama_decode in sequence, every node of every graph on every thread', () => {
    expect(trace.error).toBeUndefined();
    expect(trace.tokens.length).toBeGreaterThan(LOAD_S * 20);
    expectTokenSequence(trace);
    expect(countsOf(trace, EventKind.EVENT_KIND_TOKEN).recorded).toBe(trace.tokens.length);
    // SIGTERM may land inside a graph: that last one may be cut short.
    const lastTokenEnd = ns(trace.tokens[trace.tokens.length - 1]?.startNs) + ns(trace.tokens[trace.tokens.length - 1]?.durationNs);
    const cut = new Set(trace.graphs.filter((g) => ns(g.startNs) >= lastTokenEnd).map((g) => ns(g.graphId)));
    expect(cut.size).toBeLessThanOrEqual(1);
    expect(expectEveryNode(trace, cut)).toBeGreaterThan(LOAD_S * 20 * 100);
  });

  // A long generation with context shifts makes llama.cpp rebuild its graphs
  // (new uids) and BPF capture each: the collector keeps at most
  // PI_MAX_LIVE_STRUCTURES of them and evicts the least recently used.
  it(`keeps its memory flat: VmRSS grows less than ${RSS_GROWTH_BOUND_KIB} KiB from ${FLAT_FROM_S} s to the end`, () => {
    expect(rss.length).toBeGreaterThanOrEqual(Math.min(LOAD_S, 20) - 2);
    const atStart = rss.find((x) => x.s >= FLAT_FROM_S) ?? rss[0];
    const last = rss[rss.length - 1];
    expect((last?.kib ?? 0) - (atStart?.kib ?? 0), rss.map((x) => `${x.s.toFixed(0)}s:${x.kib}`).join(' ')).toBeLessThan(
      RSS_GROWTH_BOUND_KIB,
    );
  });
});

describe('16 inference threads on a 2-core machine', () => {
  let run: ProcResult;
  let trace: DecodedTrace;

  beforeAll(async () => {
    const out = join(dir, 't16.pftrace');
    const p = startProfinferd([
      'record', '-o', out, '--', llamaBin('llama-completion'), '-m', model, '-t', '16', '-n', '24', '--ignore-eos', '-p', PROMPT, '-no-cnv',
      '--no-warmup',
    ]);
    run = await p.done;
    trace = await readTrace(out);
  }, 120_000);

  it('records every graph with 16 threads', () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(trace.graphs.length).toBeGreaterThanOrEqual(24);
    expect(new Set(trace.graphs.map((g) => g.nThreads))).toEqual(new Set([16]));
  });

  it('accounts every node on every thread: node events = units x 16, nothing lost', () => {
    expect(trace.error).toBeUndefined();
    expectNoLoss(trace);
    const checks = expectNodeAccounting(trace, facts);
    const total = checks.reduce((a, c) => a + c.plan.units.length * 16, 0);
    expect(trace.summary.node_events).toBe(total);
    expect(new Set(trace.threads.map((t) => t.tid)).size).toBeGreaterThanOrEqual(16);
  });
});

describe('two collectors on two targets at once', () => {
  const TOKENS = 200;
  const runs: { run: ProcResult; trace: DecodedTrace; target: number }[] = [];

  beforeAll(async () => {
    const start = (name: string): { p: Proc; out: string } => {
      const out = join(dir, `${name}.pftrace`);
      const p = startProfinferd(['record', '-o', out, '--', llamaBin('llama-simple'), '-m', model, '-n', String(TOKENS), PROMPT]);
      return { p, out };
    };
    const a = start('a');
    const b = start('b');
    const targets = await Promise.all([a, b].map(async (x) => Number((await x.p.waitFor('stderr', /^profinferd: recording process (\d+)/m))[1])));
    // Both decode at the same time (about 1 s each): each collector's probes are hit by the other's target too.
    for (const [i, x] of [a, b].entries()) {
      const run = await x.p.done;
      runs.push({ run, trace: await readTrace(x.out), target: targets[i] ?? -1 });
    }
  }, 180_000);

  it('both complete, every token of their own target, nothing lost', () => {
    for (const r of runs) {
      expect(r.run.code, r.run.stderr.slice(-2000)).toBe(0);
      expect(r.trace.error).toBeUndefined();
      expectNoLoss(r.trace);
      expectTokenSequence(r.trace);
      expect(r.trace.tokens.length).toBe(parseSimpleDecoded(r.run.stderr)?.tokens);
      expect(r.trace.tokens.length).toBe(TOKENS);
      expectNodeAccounting(r.trace, facts);
    }
  });

  it('no cross-talk: each trace holds its own target\'s pid only', () => {
    expect(runs.length).toBe(2);
    expect(runs[0]?.target).not.toBe(runs[1]?.target);
    for (const r of runs) {
      const pids = new Set<number>([
        ...r.trace.tokens.map((k) => k.pid ?? 0),
        ...r.trace.graphs.map((g) => g.pid ?? 0),
        ...[...r.trace.batches.values()].flat().map((b) => b.pid ?? 0),
        ...r.trace.processes.map((p) => p.pid ?? 0),
        ...r.trace.threads.map((t) => t.pid ?? 0),
      ]);
      expect([...pids]).toEqual([r.target]);
    }
  });
});
