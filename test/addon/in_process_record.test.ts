// The collector core inside the host tool's process (host/addon, node-addon-api):
// the same trace as profinferd writes, checked against the same truths —
// llama.cpp's own decode counts, the structure replayed through GGML's loop
// (node events = units x threads), no loss — and nothing left attached after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon, type Addon } from '../../host/src/native/addon.js';
import { recordLocal, resolveExecutable, LocalRecordError } from '../../host/src/native/local_record.js';
import { bpfObjectsOf, ggmlFacts, lossByKind, readTrace, requireRoot, type GgmlFacts } from '../support/collector.js';
import { llamaBin, parseLlamaPerf } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { expectGraphsInsideTokens, expectNoLoss, expectNodeAccounting, expectTokenSequence } from '../collector/invariants.js';

let addon: Addon;
let dir: string;
let facts: GgmlFacts;

beforeAll(() => {
  requireRoot();
  const load = loadAddon();
  if (!load.addon) throw new Error(load.reason);
  addon = load.addon;
  facts = ggmlFacts();
  dir = mkdtempSync(join(tmpdir(), 'pi-addon-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('in-process recording of llama-simple (tiny q8_0)', () => {
  const tokens = 6;
  let out: string;
  let result: Awaited<ReturnType<typeof recordLocal>>;

  beforeAll(async () => {
    out = join(dir, 'tiny.pftrace');
    const command = [llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', String(tokens), 'Hello my name is'];
    result = await recordLocal(addon, { command }, { output: out, level: 'node' }, { capture: true });
  });

  it('ends when the command exits, with its exit code, and reports what it wrote', async () => {
    expect(result.reason).toBe('target exited');
    expect(result.exitCode).toBe(0);
    expect(result.hasEngine).toBe(true);
    expect(result.stats.lost).toBe(0);
    expect(result.stats.nodeRows).toBeGreaterThan(0);
    const t = await readTrace(out);
    expect(t.error).toBeUndefined();
    expect(t.sessionEnd?.reason).toBe('target exited');
    expect(result.stats.tokens).toBe(t.tokens.length);
    expect(result.stats.schedulerEvents).toBe(0); // not asked for
  });

  it('records every llama_decode, graph and node like profinferd does', async () => {
    const t = await readTrace(out);
    // llama.cpp's own count: one prompt decode of N tokens, then one run per token.
    const perf = parseLlamaPerf(result.stderr ?? '');
    if (!perf) throw new Error(`no llama_perf_context_print lines in:\n${(result.stderr ?? '').slice(-2000)}`);
    expect(t.tokens.length).toBe(1 + perf.evalRuns);
    expect(t.tokens[0].nTokens).toBe(perf.promptTokens);
    for (const tok of t.tokens.slice(1)) expect(tok.nTokens).toBe(1);
    expect(t.tokens.length).toBe(tokens);
    expectTokenSequence(t);
    expectGraphsInsideTokens(t);
    expectNodeAccounting(t, facts);
    expectNoLoss(t);
  });

  it('with sched: counts the scheduler events the trace holds, and loses none', async () => {
    const schedOut = join(dir, 'sched.pftrace');
    const command = [llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '4', 'Hello my name is'];
    const r = await recordLocal(addon, { command }, { output: schedOut, level: 'node', sched: true }, { capture: true });
    const t = await readTrace(schedOut);
    const recorded = lossByKind(t.sessionEnd?.totals?.recorded)[5]; // EVENT_KIND_SCHED
    expect(r.stats.schedulerEvents).toBeGreaterThan(0);
    expect(BigInt(r.stats.schedulerEvents)).toBe(recorded);
    expect(r.stats.lost).toBe(0);
  });

  it('holds no BPF program, map or link once stopped', () => {
    expect(bpfObjectsOf(process.pid)).toEqual({ progIds: [], linkIds: [], mapIds: [] });
  });
});

describe('in-process recording: bad input', () => {
  it('refuses a bad level and an unwritable output before attaching anything', () => {
    expect(() => new addon.Session({ output: join(dir, 'x.pftrace'), level: 'op' as never })).toThrow(/token, graph or node/);
    expect(() => new addon.Session({ output: '/nonexistent-dir/x.pftrace' })).toThrow(/cannot write \/nonexistent-dir\/x.pftrace/);
  });

  it('refuses a PID that does not exist, and a command that is not there', () => {
    const s = new addon.Session({ output: join(dir, 'nopid.pftrace') });
    expect(() => s.addPid(2 ** 22 + 12345)).toThrow(/\d+/);
    expect(() => resolveExecutable('no-such-llama-binary')).toThrow(LocalRecordError);
  });
});
