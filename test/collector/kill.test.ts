// profinferd stopped mid-run, politely (SIGINT, Ctrl-C) and not (SIGKILL):
// the trace stays readable, the target runs on to completion unharmed, and
// nothing of ours stays loaded in the kernel. The kernel's own view of BPF
// objects (/proc/PID/fdinfo, bpftool) is the truth for the last part.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TruncatedTraceError } from '../../host/src/decode/stream_reader.js';
import { EventKind } from '../../host/src/proto.js';
import {
  type BpfObjects, type DecodedTrace, type GgmlFacts, type Proc, type ProcResult, bpfObjectsOf, bpftoolLinks, bpftoolProgs,
  PROGRAM_NAMES, ggmlFacts, heldProgIds, lossByKind, pidAlive, readTrace, requireProfinferd, requireRoot, requireTool, startProfinferd,
  waitUntil,
} from '../support/collector.js';
import { llamaBin, parseLlamaPerf } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { expectGraphsInsideTokens, expectNodeAccounting, expectTokenSequence } from './invariants.js';

/** Enough tokens that the run is still going when the signal comes (about 10 ms each here). */
const N_PREDICT = 200;
/** Stop once this many TokenEvents are in the trace on disk. */
const TOKENS_BEFORE_KILL = 3;
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
  dir = mkdtempSync(join(tmpdir(), 'pi-collector-kill-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Stopped {
  readonly target: number;
  /** profinferd's own exit. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null };
  /** profinferd's and then the target's output, once the target has finished too (it inherited the pipes). */
  readonly run: ProcResult;
  readonly held: BpfObjects;
  readonly trace: DecodedTrace;
  readonly tokensSeenBeforeSignal: number;
}

/** Record llama-simple; once TOKENS_BEFORE_KILL tokens are on disk, send `signal` to profinferd only. */
async function recordAndStop(name: string, signal: NodeJS.Signals): Promise<Stopped> {
  const out = join(dir, `${name}.pftrace`);
  const p: Proc = startProfinferd(['record', '-o', out, '--', simple, '-m', model, '-n', String(N_PREDICT), PROMPT]);
  const target = Number((await p.waitFor('stderr', /^profinferd: recording process (\d+)/m))[1]);
  let seen = 0;
  try {
    await waitUntil(async () => {
      seen = (await readTrace(out)).tokens.length;
      return seen >= TOKENS_BEFORE_KILL;
    }, `${TOKENS_BEFORE_KILL} TokenEvents are in ${out}`, 60_000, 20);
    expect(pidAlive(target), 'the target finished before the signal: raise N_PREDICT').toBe(true);
    const held = bpfObjectsOf(p.pid);
    p.child.kill(signal);
    const exit = await p.exited;
    const run = await p.done; // the target finishes on its own
    return { target, exit, run, held, trace: await readTrace(out), tokensSeenBeforeSignal: seen };
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    if (pidAlive(target)) process.kill(target, 'SIGKILL'); // started by profinferd for this test
  }
}

/** The target ran every token despite the profiler going away mid-run. */
function expectTargetCompleted(s: Stopped): void {
  const perf = parseLlamaPerf(s.run.stderr);
  expect(perf, `the target did not finish normally:\n${s.run.stderr.slice(-2000)}`).toBeDefined();
  expect(perf?.evalRuns).toBe(N_PREDICT - 1);
}

describe('profinferd stopped mid-run', () => {
  describe('SIGINT', () => {
    let s: Stopped;
    beforeAll(async () => {
      s = await recordAndStop('sigint', 'SIGINT');
    });

    it('exits 0 and says it was interrupted', () => {
      expect(s.exit).toEqual({ code: 0, signal: null });
      expect(s.run.stderr).toMatch(/^profinferd: interrupted\. Recorded \d+ tokens/m);
    });

    it('leaves a whole trace that ends with SessionEnd "interrupted"', () => {
      const t = s.trace;
      expect(t.error).toBeUndefined();
      expect(t.packets[t.packets.length - 1]?.sessionEnd?.reason).toBe('interrupted');
      expect(t.tokens.length).toBeGreaterThanOrEqual(s.tokensSeenBeforeSignal);
      expect(t.tokens.length).toBeLessThan(N_PREDICT);
      expectTokenSequence(t);
      expect(Number(lossByKind(t.sessionEnd?.totals?.recorded)[EventKind.EVENT_KIND_TOKEN])).toBe(t.tokens.length);
    });

    it('has whole graphs: every recorded graph accounts for all its nodes on every thread', () => {
      expectNodeAccounting(s.trace, facts);
    });

    it('lets the target run to completion', () => {
      expectTargetCompleted(s);
    });

    // BUG: on SIGINT, pi_collector__finish destroys the links one at a time in
    // attach order (token_enter, token_exit, graph_*, node_*), and each uprobe
    // detach takes milliseconds while the target keeps running. So the trace ends
    // with graphs that no TokenEvent contains (e.g. 61 tokens, 71 graphs; 65
    // tokens, 81 graphs; 62 tokens, 134 graphs in three runs here), and node rows
    // that arrive after the graph probes are gone are counted as lost NODE events
    // (SessionEnd.totals.lost NODE = 4,736 .. 17,032) on an idle machine: loss that
    // never happened. Fix: stop emitting first (a BPF global flag checked by every
    // program), or detach node -> graph -> token, and drop the unfinished token.
    it('ends on a token boundary and reports no loss that did not happen', () => {
      expectGraphsInsideTokens(s.trace);
      const lost = lossByKind(s.trace.sessionEnd?.totals?.lost);
      expect(Object.values(lost).reduce((a, n) => a + n, 0n)).toBe(0n);
    });
  });

  describe('SIGKILL', () => {
    let s: Stopped;
    beforeAll(async () => {
      s = await recordAndStop('sigkill', 'SIGKILL');
    });

    it('held BPF programs and links while it ran', () => {
      expect(s.exit).toEqual({ code: null, signal: 'SIGKILL' });
      expect(s.held.progIds.length).toBeGreaterThan(0);
      expect(s.held.linkIds.length).toBeGreaterThan(0);
    });

    it('leaves a trace readable up to its last whole packet', () => {
      const t = s.trace;
      if (t.error) expect(t.error).toBeInstanceOf(TruncatedTraceError); // cut inside a packet: fine; corrupt: not
      expect(t.session, 'SessionInfo survives').toBeDefined();
      expect(t.sessionEnd, 'no SessionEnd after SIGKILL').toBeUndefined();
      expect(t.summary.truncated).toBe(true);
      expect(t.tokens.length).toBeGreaterThanOrEqual(s.tokensSeenBeforeSignal);
      expectTokenSequence(t);
    });

    it('leaves none of its BPF programs or links in the kernel', async () => {
      const progs = new Set(s.held.progIds);
      const links = new Set(s.held.linkIds);
      let left: string[] = [];
      await waitUntil(
        () => {
          left = [
            ...bpftoolProgs().filter((p) => progs.has(p.id)).map((p) => `prog ${p.id} ${p.name ?? ''}`),
            ...bpftoolLinks().filter((l) => links.has(l.id) || progs.has(l.prog_id)).map((l) => `link ${l.id} -> prog ${l.prog_id} ${l.file ?? ''}`),
          ];
          return left.length === 0;
        },
        'the kernel has freed the programs and links of the killed profinferd',
        10_000,
        100,
      ).catch(() => undefined);
      expect(left).toEqual([]);
    });

    it('leaves no program named like ours that no process holds (nothing pinned or leaked)', async () => {
      const ours = new Set(PROGRAM_NAMES);
      let orphans: string[] = [];
      // Other profinferd sessions may run meanwhile: theirs are held by their process.
      await waitUntil(
        () => {
          const held = heldProgIds();
          orphans = bpftoolProgs().filter((p) => ours.has(p.name ?? '') && !held.has(p.id)).map((p) => `${p.id} ${p.name}`);
          return orphans.length === 0;
        },
        'no unheld program named like ours is loaded',
        10_000,
        100,
      ).catch(() => undefined);
      expect(orphans).toEqual([]);
    });

    it('lets the target run to completion', () => {
      expectTargetCompleted(s);
    });
  });
});
