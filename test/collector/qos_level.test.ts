// Level switching under profinferd record, on real llama-simple runs (tiny model):
// - sampling 1 call in N (from a --config file, overridden by --sample-every):
//   node rows exist exactly for the calls TokenEvent.node_level marks, those are
//   one in N, and each has its LevelChange pair;
// - a QoS rule driven by a really slowed target (SIGSTOP/SIGCONT bursts from
//   this test): the level drops to graph while it is slow and comes back after,
//   the LevelChange packets say from which call on, and node_level and the node
//   rows agree with them call by call;
// - a client's level change (pi_collector__set_level, reached here through
//   SIGUSR1 / SIGUSR2): down to graph and back, with the same checks;
// - a bad --config file stops profinferd before it attaches anything or starts
//   the command, with one line naming the field.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { longToBigInt, type v1 } from '../../host/src/proto.js';
import {
  type DecodedTrace, ns, readTrace, recordedPid, requireProfinferd, requireRoot, runProfinferd, startProfinferd,
  waitUntil,
} from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

let dir: string;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  dir = mkdtempSync(join(tmpdir(), 'pi-qos-level-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Per call: whether any graph computed inside it (same thread) has node rows. */
function callsWithNodeRows(t: DecodedTrace): Map<bigint, boolean> {
  const out = new Map<bigint, boolean>();
  for (const k of t.tokens) {
    const start = ns(k.startNs);
    const end = start + ns(k.durationNs);
    const graphs = t.graphs.filter((g) => g.tid === k.tid && ns(g.startNs) >= start && ns(g.startNs) <= end);
    out.set(longToBigInt(k.seq), graphs.some((g) => (t.batches.get(longToBigInt(g.graphId)) ?? []).some((b) => (b.nodeIndexDelta ?? []).length > 0)));
  }
  return out;
}

function levelChanges(t: DecodedTrace): v1.ILevelChange[] {
  return t.packets.flatMap((p) => (p.levelChange ? [p.levelChange] : []));
}

const seqOf = (k: v1.ITokenEvent): bigint => longToBigInt(k.seq);
// TraceLevel values as decoded (numbers).
const GRAPH = 3;
const NODE = 4;

describe('sampling: node level on one llama_decode call in N', () => {
  let t: DecodedTrace;
  const N = 5; // the flag; the file says 4

  beforeAll(async () => {
    const config = join(dir, 'sample.json');
    writeFileSync(config, JSON.stringify({ level: 'TRACE_LEVEL_NODE', sampleEveryNTokens: 4 }));
    const out = join(dir, 'sample.pftrace');
    const run = await runProfinferd([
      'record', '-o', out, '--config', config, '--sample-every', String(N), '--',
      llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '60', 'Hello my name is',
    ]);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    t = await readTrace(out);
  });

  it('records node rows exactly for the calls marked node_level, one in N', () => {
    const rows = callsWithNodeRows(t);
    const sampled = t.tokens.filter((k) => k.nodeLevel).map(seqOf);
    expect(t.tokens.length).toBe(60);
    for (const k of t.tokens) expect(rows.get(seqOf(k)), `call ${seqOf(k)}: node rows vs node_level`).toBe(k.nodeLevel === true);
    // One in N: the first at or after call N, then every N calls (a call that began
    // before its probes were ready moves the sample one call later).
    expect(sampled.length).toBeGreaterThanOrEqual(Math.floor(60 / N) - 2);
    expect(sampled.length).toBeLessThanOrEqual(Math.floor(60 / N));
    expect(Number(sampled[0])).toBeGreaterThanOrEqual(N);
    for (let i = 1; i < sampled.length; i++) expect(Number((sampled[i] ?? 0n) - (sampled[i - 1] ?? 0n))).toBeGreaterThanOrEqual(N);
  });

  it('writes a LevelChange pair around every sampled call', () => {
    const changes = levelChanges(t).filter((c) => /^sampling/.test(c.reason ?? ''));
    for (const k of t.tokens.filter((x) => x.nodeLevel)) {
      const up = changes.find((c) => c.toLevel === NODE && longToBigInt(c.firstCompleteTokenSeq) === seqOf(k));
      const down = changes.find((c) => c.toLevel === GRAPH && longToBigInt(c.firstCompleteTokenSeq) === seqOf(k) + 1n);
      expect(up, `LevelChange to node at call ${seqOf(k)}`).toBeTruthy();
      expect(down, `LevelChange back to graph after call ${seqOf(k)}`).toBeTruthy();
      expect(ns(up?.tsNs)).toBe(ns(k.startNs));
    }
    expect(t.session?.config?.level).toBe(NODE);
  });
});

describe('QoS rule: a slowed target drops node level and gets it back', () => {
  let t: DecodedTrace;
  let stderr = '';
  const MIN = 40;
  const RESUME = 60;

  beforeAll(async () => {
    const out = join(dir, 'qos.pftrace');
    const p = startProfinferd([
      'record', '-o', out, '--qos-min-tps', String(MIN), '--qos-resume-tps', String(RESUME), '--qos-window', '16', '-v', '--',
      llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '900', 'Hello my name is',
    ]);
    await p.waitFor('stderr', /^profinferd: recording process (\d+)/m);
    const pid = recordedPid(p.stderr) ?? -1;
    // Let it decode at full speed for a while (the tiny model does 100-300
    // tokens/s at node level here), then slow it down for real: stopped 90 ms
    // of every 100 ms, about 3 tokens in 100 ms, for 1.5 s. A window of 16
    // calls spans several stops (about 30 tokens/s); one of 8 may fall between
    // two and look fast, which the rule would rightly follow.
    await waitUntil(() => /^llama_context/m.test(p.stderr), 'the model is loaded');
    await new Promise((r) => setTimeout(r, 700));
    const t0 = performance.now();
    try {
      while (performance.now() - t0 < 1500) {
        process.kill(pid, 'SIGSTOP');
        await new Promise((r) => setTimeout(r, 90));
        process.kill(pid, 'SIGCONT');
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // it has exited
      }
    }
    const run = await p.done;
    stderr = run.stderr;
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    t = await readTrace(out);
  }, 120_000);

  it('drops to graph level while slow and restores node level after, by the rule', () => {
    const qos = levelChanges(t).filter((c) => /^qos:/.test(c.reason ?? ''));
    expect(qos.length, stderr.slice(-2000)).toBeGreaterThanOrEqual(2);
    expect(qos[0]?.fromLevel).toBe(NODE);
    expect(qos[0]?.toLevel).toBe(GRAPH);
    expect(qos[0]?.reason).toMatch(new RegExp(`^qos: [0-9.]+ tok/s < ${MIN}$`));
    expect(qos[1]?.toLevel).toBe(NODE);
    expect(qos[1]?.reason).toMatch(/^qos: [0-9.]+ tok\/s >= /);
    // Hysteresis: no flapping, at most one more round trip in a run with one slow phase.
    expect(qos.length).toBeLessThanOrEqual(4);
    // The last word is node level: the target ran at full speed at the end.
    expect(qos[qos.length - 1]?.toLevel).toBe(NODE);
  });

  it('has node_level and node rows exactly where the LevelChange packets say', () => {
    const qos = levelChanges(t).filter((c) => /^qos:/.test(c.reason ?? ''));
    const rows = callsWithNodeRows(t);
    // Calls from each change's first complete call on run at its level, until the next.
    const levelAt = (seq: bigint): number => {
      let level = NODE;
      for (const c of qos) if (longToBigInt(c.firstCompleteTokenSeq) > 0n && seq >= longToBigInt(c.firstCompleteTokenSeq)) level = c.toLevel ?? 0;
      return level;
    };
    let graphCalls = 0;
    for (const c of qos) expect(longToBigInt(c.firstCompleteTokenSeq), 'every change completed').toBeGreaterThan(0n);
    for (const k of t.tokens) {
      const seq = seqOf(k);
      expect(rows.get(seq), `call ${seq}: node rows vs node_level`).toBe(k.nodeLevel === true);
      // A call that began before a change ran whole at the old level; the first
      // complete one and all after it at the new one.
      const atNode = levelAt(seq) === NODE;
      if (!atNode) graphCalls++;
      expect(k.nodeLevel === true, `call ${seq} at ${levelAt(seq)}`).toBe(atNode);
    }
    expect(graphCalls).toBeGreaterThan(0);
    // Graph events went on at both levels: one graph per call.
    expect(t.graphs.length).toBe(t.tokens.length);
  });

  it('writes QosSample packets with the rate, TPOT, TTFT and the level in force', () => {
    const samples = t.packets.flatMap((p) => (p.qos ? [p.qos] : []));
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(samples.some((s) => s.level === GRAPH)).toBe(true);
    const late = samples[samples.length - 1];
    expect(late?.ttftMs ?? 0).toBeGreaterThan(0);
    expect(late?.tpotMs ?? 0).toBeGreaterThan(0);
    expect(samples.some((s) => (s.tokensPerS ?? 0) > RESUME)).toBe(true);
    // profinferd -v says what attaching and detaching cost.
    expect(stderr).toMatch(/debug: level switching: \d+ attaches \(mean [0-9.]+ ms/);
  });
});

describe('a client changes the level (pi_collector__set_level, here through SIGUSR1 / SIGUSR2)', () => {
  let t: DecodedTrace;

  beforeAll(async () => {
    const out = join(dir, 'signal.pftrace');
    const p = startProfinferd([
      'record', '-o', out, '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '700', 'Hello my name is',
    ]);
    await p.waitFor('stderr', /^profinferd: recording process (\d+)/m);
    await waitUntil(() => /^llama_context/m.test(p.stderr), 'the model is loaded');
    await new Promise((r) => setTimeout(r, 500));
    p.child.kill('SIGUSR1');
    await new Promise((r) => setTimeout(r, 600));
    p.child.kill('SIGUSR2');
    const run = await p.done;
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    t = await readTrace(out);
  }, 120_000);

  it('goes down to graph and back to node, each change complete from a named call on', () => {
    const changes = levelChanges(t);
    expect(changes.map((c) => [c.fromLevel, c.toLevel, c.reason])).toEqual([[NODE, GRAPH, 'signal'], [GRAPH, NODE, 'signal']]);
    const [down, up] = changes.map((c) => longToBigInt(c.firstCompleteTokenSeq));
    expect(down).toBeGreaterThan(1n);
    expect(up).toBeGreaterThan(down ?? 0n);
    const rows = callsWithNodeRows(t);
    for (const k of t.tokens) {
      const atGraph = seqOf(k) >= (down ?? 0n) && seqOf(k) < (up ?? 0n);
      expect(k.nodeLevel === true, `call ${seqOf(k)}`).toBe(!atGraph);
      expect(rows.get(seqOf(k)), `call ${seqOf(k)}: node rows`).toBe(!atGraph);
    }
    expect(t.graphs.length).toBe(t.tokens.length); // graph events never stopped
  });
});

describe('record --config with a bad file', () => {
  it.each([
    ['{"counters": ["page-faults", "task-clock", "cylces"]}', 'counters[2]: unknown counter "cylces" (did you mean "cycles"?)'],
    ['{"opFilter": ["MUL_MAT", "SOFTMAX"]}', 'opFilter[1]: unknown op "SOFTMAX" (did you mean "SOFT_MAX"?)'],
    ['{"level": "TRACE_LEVEL_OPS"}', 'level: unknown level "TRACE_LEVEL_OPS" (TRACE_LEVEL_TOKEN, TRACE_LEVEL_GRAPH, TRACE_LEVEL_NODE or token, graph, node)'],
    ['{"qosRule": {"minTokensPerS": "fast"}}', 'qosRule.minTokensPerS: expected a finite number, not fast'],
    ['{"level": "node",\n "sched": tru}', '2:11: malformed JSON: "tru" is not a value'],
  ])('%s fails before attaching: %s', async (json, message) => {
    const config = join(dir, 'bad.json');
    const out = join(dir, 'bad.pftrace');
    const marker = join(dir, 'ran');
    writeFileSync(config, json);
    const run = await runProfinferd(['record', '-o', out, '--config', config, '--', '/bin/sh', '-c', `touch ${marker}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`error: ${config}: ${message}\n`);
    expect(existsSync(out), 'no trace file is created').toBe(false);
    expect(existsSync(marker), 'the command never ran').toBe(false);
  });
});
