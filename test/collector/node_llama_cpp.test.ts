// profinferd records node-llama-cpp's prebuilt llama.cpp (libllama + a CPU
// variant of libggml-cpu chosen and dlopen'ed at run time) running
// test/workloads/nlc_generate.mjs, both ways a user starts it: launching the
// command (`record -- node ...`) and attaching to a running process (`--pid`).
// The truth is the runner's own report (prompt_tokens, generated_tokens) and
// GGML's compute loop replayed over the recorded structure.
//
// node-llama-cpp's behaviour, observed and asserted exactly:
// - the prompt (BOS + tokens, 52 here) fits one batch (batchSize 512), so it is
//   ONE llama_decode whose n_tokens == prompt_tokens;
// - each generated token is sampled from the logits of the previous call, and a
//   token is decoded only when the generator is asked for the next one. The
//   runner stops after the N-th token, so the last token is never decoded:
//   single-token calls == generated_tokens - 1, and llama_decode calls == N.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecodedTrace, type GgmlFacts, Proc, type ProcResult, ggmlFacts, readTrace, recordedPid, requireProfinferd,
  requireRoot, runProfinferd, startProfinferd,
} from '../support/collector.js';
import { type GenerateResult, NLC_BINS_DIR, NLC_ENTRY, generateArgs, nlcInstalled } from '../support/engine.js';
import { type PresetName, type WeightTypeName, ensureModel } from '../support/models.js';
import {
  expectGraphsInsideTokens, expectNoLoss, expectNodeAccounting, expectNodeProbeMode, expectOpNames, expectTokenSequence,
  opOf,
} from './invariants.js';

const THREADS = 2;

interface Case {
  readonly preset: PresetName;
  readonly type: WeightTypeName;
  readonly tokens: number;
  readonly mode: 'launch' | 'pid';
}

const CASES: readonly Case[] = [
  { preset: 'tiny', type: 'q8_0', tokens: 6, mode: 'launch' },
  { preset: 'tiny', type: 'q8_0', tokens: 6, mode: 'pid' },
  { preset: 'moe', type: 'q8_0', tokens: 6, mode: 'launch' },
  { preset: 'moe', type: 'q8_0', tokens: 6, mode: 'pid' },
];

interface Recording {
  readonly collector: ProcResult;
  readonly runnerPid: number;
  readonly result: GenerateResult;
  readonly trace: DecodedTrace;
}

let facts: GgmlFacts;
let dir: string;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  if (!nlcInstalled()) throw new Error(`node-llama-cpp is not installed at ${NLC_ENTRY}: run \`bash scripts/setup.sh\``);
  facts = ggmlFacts();
  dir = mkdtempSync(join(tmpdir(), 'pi-collector-nlc-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function parseResult(stdout: string, context: string): GenerateResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as GenerateResult;
  } catch {
    throw new Error(`the runner printed no result line (${context}):\n${stdout.slice(-2000)}`);
  }
}

/** `profinferd record -o OUT -- node nlc_generate.mjs ...`: the runner's stdout comes through profinferd's. */
async function recordLaunch(c: Case, out: string): Promise<Recording> {
  const args = generateArgs({ model: ensureModel(c.preset, c.type), tokens: c.tokens, threads: THREADS });
  const collector = await runProfinferd(['record', '-o', out, '--', process.execPath, ...args]);
  expect(collector.code, collector.stderr.slice(-3000)).toBe(0);
  const runnerPid = recordedPid(collector.stderr) ?? -1;
  expect(collector.stderr).toContain(`pid=${runnerPid}\n`);
  return { collector, runnerPid, result: parseResult(collector.stdout, collector.stderr), trace: await readTrace(out) };
}

/** Start the runner held before generating, attach with --pid, then let it go with SIGUSR1. */
async function recordPid(c: Case, out: string): Promise<Recording> {
  const args = generateArgs({ model: ensureModel(c.preset, c.type), tokens: c.tokens, threads: THREADS, waitForSignal: true });
  const runner = new Proc(process.execPath, args);
  let collector: Proc | undefined;
  try {
    await runner.waitFor('stderr', /^waiting for SIGUSR1$/m, 60_000);
    collector = startProfinferd(['record', '-o', out, '--pid', String(runner.pid)]);
    await collector.waitFor('stderr', /^profinferd: recording process \d+/m, 30_000); // printed once attached
    process.kill(runner.pid, 'SIGUSR1');
    const r = await runner.done;
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const cr = await collector.done;
    expect(cr.code, cr.stderr.slice(-3000)).toBe(0);
    expect(recordedPid(cr.stderr)).toBe(runner.pid);
    return { collector: cr, runnerPid: runner.pid, result: parseResult(r.stdout, r.stderr), trace: await readTrace(out) };
  } finally {
    if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
    if (collector && collector.child.exitCode === null && collector.child.signalCode === null) collector.child.kill('SIGINT');
  }
}

describe.each(CASES)('profinferd record, node-llama-cpp $preset $type, $tokens tokens ($mode)', (c) => {
  let rec: Recording;

  beforeAll(async () => {
    const out = join(dir, `${c.preset}-${c.type}-${c.mode}.pftrace`);
    rec = c.mode === 'launch' ? await recordLaunch(c, out) : await recordPid(c, out);
    expect(rec.result.generated_tokens).toBe(c.tokens);
  }, 180_000);

  it('writes a whole trace of the runner, ending with "target exited"', () => {
    const t = rec.trace;
    expect(t.error).toBeUndefined();
    expect(t.sessionEnd?.reason).toBe('target exited');
    expect(t.session?.targetPids).toEqual([rec.runnerPid]);
    // The engine is found in node-llama-cpp's libraries, including the dlopen'ed CPU variant.
    const paths = t.modules.map((m) => m.path ?? '');
    expect(paths.some((p) => p.startsWith(NLC_BINS_DIR) && /\/libllama[^/]*\.so$/.test(p))).toBe(true);
    expect(paths.some((p) => p.startsWith(NLC_BINS_DIR) && /\/libggml-cpu-[^/]+\.so$/.test(p))).toBe(true);
  });

  it("matches the runner's prompt and generated tokens: one prompt call, then N - 1 single-token calls", () => {
    const t = rec.trace;
    const [first, ...rest] = t.tokens;
    expect(first?.nTokens).toBe(rec.result.prompt_tokens);
    expect(rest.map((k) => k.nTokens)).toEqual(rest.map(() => 1));
    expect(rest.length).toBe(rec.result.generated_tokens - 1); // the last generated token is not decoded
    expect(t.tokens.length).toBe(rec.result.generated_tokens);
    expect(t.summary.prefill_tokens).toBe(rec.result.prompt_tokens);
    expect(t.summary.decode_tokens).toBe(rec.result.generated_tokens - 1);
    expectTokenSequence(t);
    expect(new Set(t.tokens.map((k) => k.pid))).toEqual(new Set([rec.runnerPid]));
  });

  it('probes node level as PROFINFER_NODE_PROBES asks (one probe per unit unless two)', () => {
    expectNodeProbeMode(rec.trace);
  });

  it('accounts for every node of every graph on both threads, and nests graphs in llama_decode', () => {
    const checks = expectNodeAccounting(rec.trace, facts);
    expect(new Set(checks.map((x) => x.threads))).toEqual(new Set([THREADS]));
    expectGraphsInsideTokens(rec.trace);
  });

  it('loses nothing and names ops as ggml.h does', () => {
    expectNoLoss(rec.trace);
    expectOpNames(rec.trace, facts);
    const t = rec.trace;
    const hasMoe = [...t.structures.values()].some((s) => (s.nodes ?? []).some((_, i) => opOf(t, s.pid ?? 0, s, i) === 'MUL_MAT_ID'));
    expect(hasMoe).toBe(c.preset === 'moe');
    if (c.preset === 'moe') expect(t.summary.ops.MUL_MAT_ID?.count).toBeGreaterThan(0);
  });

  if (c.mode === 'pid') {
    it('ProcessInfo of an attached process is the runner', () => {
      const p = rec.trace.processes.find((x) => x.pid === rec.runnerPid);
      expect(p?.exe).toBe(process.execPath);
      expect(p?.cmdline).toContain('nlc_generate.mjs');
    });
  }
});
