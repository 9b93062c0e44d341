// profinferd record under faults it does not cause: the target crashes with
// SIGSEGV mid-token, the disk under the trace fills up (a 256 KiB tmpfs), and
// the ring buffer overruns (64 KiB, the smallest allowed, while the collector
// is stopped with SIGSTOP for 700 ms so that the target outruns it). After
// each: the trace is readable up to its last whole packet, what was lost is
// counted exactly against what the engine did (llama-simple's own count of
// llama_decode calls; node events = units x threads from the recorded
// structure), and none of our BPF objects is left in the kernel.
// (profinferd killed with -9 mid-write: test/collector/kill.test.ts.)
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TruncatedTraceError } from '../../host/src/decode/stream_reader.js';
import {
  type BpfObjects, type DecodedTrace, type GgmlFacts, type Proc, type ProcResult, bpfObjectsOf, ggmlFacts, ns, pidAlive, planGraph,
  readTrace, requireProfinferd, requireRoot, requireTool, startProfinferd, waitUntil,
} from '../support/collector.js';
import { llamaBin, parseSimpleDecoded } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { expectNoLoss, expectNodeAccounting, expectTokenSequence } from '../collector/invariants.js';
import { EventKind, type SmallDisk, bpfLeftBehind, countsOf, mountSmallTmpfs, summaryLost } from './fault_support.js';

const PROMPT = 'Hello my name is';

let dir: string;
let model: string;
let simple: string;
let facts: GgmlFacts;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  requireTool('bpftool');
  model = ensureModel('tiny', 'q8_0');
  simple = llamaBin('llama-simple');
  facts = ggmlFacts();
  dir = mkdtempSync(join(tmpdir(), 'pi-rel-record-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Recorded {
  readonly target: number;
  readonly run: ProcResult;
  readonly held: BpfObjects;
  readonly trace: DecodedTrace;
}

/** Records llama-simple decoding `tokens` tokens; `during` runs once `after` TokenEvents are on disk. */
async function recordWith(
  out: string, tokens: number, extra: readonly string[], after: number, during: (p: Proc, target: number) => Promise<void>,
): Promise<Recorded> {
  const p = startProfinferd(['record', '-o', out, ...extra, '--', simple, '-m', model, '-n', String(tokens), PROMPT]);
  const target = Number((await p.waitFor('stderr', /^profinferd: recording process (\d+)/m))[1]);
  try {
    await waitUntil(async () => (await readTrace(out)).tokens.length >= after, `${after} TokenEvents are in ${out}`, 60_000, 20);
    expect(pidAlive(target), 'the target finished before the fault: raise its token count').toBe(true);
    const held = bpfObjectsOf(p.pid);
    await during(p, target);
    const run = await p.done;
    return { target, run, held, trace: await readTrace(out) };
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    if (pidAlive(target)) process.kill(target, 'SIGKILL'); // started by profinferd for this test
  }
}

/** Executed units of graph `g` (per thread), from its recorded structure. */
function unitsOf(t: DecodedTrace, g: DecodedTrace['graphs'][number]): number {
  const s = t.structures.get(ns(g.structureId));
  expect(s, `graph ${ns(g.graphId)} has no structure`).toBeDefined();
  return planGraph(s ?? {}, facts, t.engines.get(g.pid ?? 0)?.opNames ?? []).units.length;
}

describe('target crashes with SIGSEGV mid-token', () => {
  let r: Recorded;
  beforeAll(async () => {
    r = await recordWith(join(dir, 'segv.pftrace'), 3000, [], 20, async (_p, target) => {
      process.kill(target, 'SIGSEGV');
    });
  }, 120_000);

  it('ends the session by itself, saying the target exited, with its signal as the exit code', () => {
    expect(r.run.code).toBe(0);
    expect(r.run.stderr).toMatch(/^profinferd: target exited\. Recorded \d+ tokens/m);
    expect(r.trace.sessionEnd?.reason).toBe('target exited');
    expect(r.trace.sessionEnd?.targetExitCode).toBe(-11); // killed by SIGSEGV
  });

  it('leaves a whole trace: every finished llama_decode, in sequence, nothing lost', () => {
    const t = r.trace;
    expect(t.error).toBeUndefined();
    expect(t.tokens.length).toBeGreaterThanOrEqual(20);
    expectTokenSequence(t);
    for (const kind of [EventKind.EVENT_KIND_TOKEN, EventKind.EVENT_KIND_GRAPH, EventKind.EVENT_KIND_NODE, EventKind.EVENT_KIND_OUTPUT]) {
      expect(countsOf(t, kind).lost, EventKind[kind]).toBe(0);
    }
    expect(countsOf(t, EventKind.EVENT_KIND_TOKEN).recorded).toBe(t.tokens.length);
  });

  it('accounts every node: whole graphs inside tokens run every unit on every thread; the graph the crash cut runs fewer', () => {
    const t = r.trace;
    const lastTokenEnd = ns(t.tokens[t.tokens.length - 1]?.startNs) + ns(t.tokens[t.tokens.length - 1]?.durationNs);
    const cut = t.graphs.filter((g) => ns(g.startNs) >= lastTokenEnd);
    // The crash lands inside a graph almost always; between two graphs there is none cut.
    expect(cut.length).toBeLessThanOrEqual(1);
    if (cut.length) expect(cut[0]).toBe(t.graphs[t.graphs.length - 1]);
    let rows = 0;
    for (const g of t.graphs) {
      const units = unitsOf(t, g);
      const batches = t.batches.get(ns(g.graphId)) ?? [];
      const perThread = batches.map((b) => (b.nodeIndexDelta ?? []).length);
      rows += perThread.reduce((a, n) => a + n, 0);
      if (cut.includes(g)) {
        for (const n of perThread) expect(n).toBeLessThanOrEqual(units);
      } else {
        expect(batches.length, `graph ${ns(g.graphId)}`).toBe(g.nThreads);
        expect(perThread, `graph ${ns(g.graphId)}`).toEqual(perThread.map(() => units));
      }
    }
    expect(countsOf(t, EventKind.EVENT_KIND_NODE).recorded).toBe(rows);
    expect(t.summary.node_events).toBe(rows);
  });

  it('leaves none of its BPF programs or links in the kernel', async () => {
    expect(r.held.progIds.length).toBeGreaterThan(0);
    expect(await bpfLeftBehind(r.held)).toEqual([]);
  });
});

describe('disk full under the trace (a 256 KiB tmpfs)', () => {
  const TOKENS = 300; // about 0.7 MB of trace at node level: the disk fills at about a third
  let disk: SmallDisk;
  let r: Recorded;
  beforeAll(async () => {
    disk = mountSmallTmpfs(256);
    r = await recordWith(join(disk.dir, 'full.pftrace'), TOKENS, [], 1, async () => undefined);
    const out = countsOf(r.trace, EventKind.EVENT_KIND_OUTPUT);
    console.info(
      `disk full: ${r.trace.tokens.length} of ${TOKENS} tokens in the file; ` +
        (r.trace.sessionEnd ? `SessionEnd: ${out.lost} packets not written (OUTPUT)` : 'no SessionEnd (it did not fit)') +
        `; closing line says lost ${summaryLost(r.run.stderr)}`,
    );
  }, 120_000);
  afterAll(() => disk?.unmount());

  it('says once, in one line, that it cannot write the trace and why', () => {
    const lines = r.run.stderr.split('\n').filter((l) => /^profinferd: cannot write the trace/.test(l));
    expect(lines.length, r.run.stderr.slice(-3000)).toBe(1);
    expect(lines[0]).toMatch(/No space left on device/);
  });

  it('keeps the target running to the end', () => {
    expect(parseSimpleDecoded(r.run.stderr)?.tokens, r.run.stderr.slice(-2000)).toBe(TOKENS);
  });

  it('leaves a trace readable up to its last whole packet, with the first tokens in sequence', () => {
    const t = r.trace;
    if (t.error) expect(t.error).toBeInstanceOf(TruncatedTraceError);
    expect(t.error, 'the writer cuts a partial frame off a file').toBeUndefined();
    expect(t.session).toBeDefined();
    expect(t.tokens.length).toBeGreaterThan(0);
    expect(t.tokens.length, 'the disk did not fill: shrink the tmpfs').toBeLessThan(TOKENS);
    expectTokenSequence(t);
  });

  it('counts in its SessionEnd, where there was room for one, the packets it could not write (EVENT_KIND_OUTPUT)', () => {
    // Whether the last packets fit depends on the bytes the cut left free: the
    // closing line (below) must carry the count either way.
    const t = r.trace;
    if (!t.sessionEnd) return;
    expect(countsOf(t, EventKind.EVENT_KIND_OUTPUT).lost).toBeGreaterThan(0);
    // Every llama_decode was seen; those not in the file are the ones that did not fit.
    expect(countsOf(t, EventKind.EVENT_KIND_TOKEN).recorded).toBe(TOKENS);
  });

  // BUG (main.c print_summary): the closing line says "lost 0" when packets were
  // dropped for want of disk: it sums BPF losses and unattributed node rows only,
  // not EVENT_KIND_OUTPUT (collector.c lost[8] = pi_emit__failed + writer
  // packets_failed), which only the SessionEnd carries, and the SessionEnd itself
  // is often what does not fit (then the count is nowhere).
  it('says in its closing line that it lost what it could not write', () => {
    expect(r.trace.tokens.length).toBeLessThan(TOKENS); // the disk cut the trace: packets were lost
    expect(summaryLost(r.run.stderr)).toBeGreaterThan(0);
    expect(summaryLost(r.run.stderr)).toBeGreaterThanOrEqual(countsOf(r.trace, EventKind.EVENT_KIND_OUTPUT).lost);
  });

  it('leaves none of its BPF programs or links in the kernel', async () => {
    expect(await bpfLeftBehind(r.held)).toEqual([]);
  });
});

describe('ring buffer overrun under a burst (--ringbuf-kib 64, collector stopped 700 ms)', () => {
  const TOKENS = 300;
  let r: Recorded;
  /** The same run (greedy decoding: the same graphs) recorded at the default ring size: what the engine did. */
  let ref: Recorded;
  let calls: number;
  beforeAll(async () => {
    ref = await recordWith(join(dir, 'reference.pftrace'), TOKENS, [], 1, async () => undefined);
    r = await recordWith(join(dir, 'overrun.pftrace'), TOKENS, ['--ringbuf-kib', '64'], 10, async (p) => {
      p.child.kill('SIGSTOP'); // the target decodes on; the 64 KiB ring fills in a few ms
      await new Promise((res) => setTimeout(res, 700));
      p.child.kill('SIGCONT');
    });
    const decoded = parseSimpleDecoded(r.run.stderr);
    expect(decoded, r.run.stderr.slice(-2000)).toBeDefined();
    calls = decoded?.tokens ?? 0; // llama-simple counts its llama_decode calls, prompt included
    const f = (k: EventKind): string => {
      const c = countsOf(r.trace, k);
      return `${EventKind[k]} ${c.recorded} recorded + ${c.lost} lost`;
    };
    console.info(
      `overrun: ${calls} llama_decode calls, reference ${ref.trace.graphs.length} graphs and ${ref.trace.summary.node_events} node events; ` +
        [EventKind.EVENT_KIND_TOKEN, EventKind.EVENT_KIND_GRAPH, EventKind.EVENT_KIND_NODE, EventKind.EVENT_KIND_STRUCTURE].map(f).join('; '),
    );
  }, 120_000);

  it('the reference run lost nothing and accounts every node (units x threads of each graph)', () => {
    expect(ref.trace.error).toBeUndefined();
    expectNoLoss(ref.trace);
    expectNodeAccounting(ref.trace, facts);
    expect(ref.trace.tokens.length).toBe(calls);
    expect(ref.trace.graphs.length).toBe(calls); // one graph per llama_decode
  });

  it('loses events, and says so', () => {
    const t = r.trace;
    expect(t.error).toBeUndefined();
    expect(countsOf(t, EventKind.EVENT_KIND_NODE).lost, 'no overrun: the burst was too short').toBeGreaterThan(0);
    expect(t.summary.lost_events).toBeGreaterThan(0);
    expect(summaryLost(r.run.stderr)).toBeGreaterThan(0);
  });

  it('tokens: recorded + lost = the llama_decode calls the target made', () => {
    const c = countsOf(r.trace, EventKind.EVENT_KIND_TOKEN);
    expect(c.recorded).toBe(r.trace.tokens.length);
    expect(c.recorded + c.lost).toBe(calls);
  });

  it('nodes: recorded + lost = units x threads of every graph the target computed', () => {
    const c = countsOf(r.trace, EventKind.EVENT_KIND_NODE);
    expect(c.recorded).toBe(r.trace.summary.node_events);
    expect(c.recorded + c.lost).toBe(ref.trace.summary.node_events);
  });

  // BUG (collector.c to_event_kinds): lost GRAPH = GRAPH_BEGIN + GRAPH_END records
  // dropped in BPF, while recorded GRAPH counts graphs: a graph whose begin and end
  // were both dropped counts twice (seen: 160 recorded + 81 lost for 200 graphs).
  it('graphs: recorded + lost = the graphs the target computed (one per llama_decode)', () => {
    const c = countsOf(r.trace, EventKind.EVENT_KIND_GRAPH);
    expect(c.recorded).toBe(r.trace.graphs.length);
    expect(c.recorded + c.lost).toBe(calls);
  });

  it('leaves none of its BPF programs or links in the kernel', async () => {
    expect(await bpfLeftBehind(r.held)).toEqual([]);
  });
});
