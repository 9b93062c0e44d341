// Real llama.cpp (node-llama-cpp's prebuilt CPU libraries) runs the generated
// models: they load, produce exactly N greedy tokens with sane timings, and the
// runner behaves as the profiler tests need (PID first, wait for SIGUSR1).
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { GenerateResult, NLC_ENTRY, generateArgs, nlcInstalled, runGenerate } from '../support/engine.js';
import { PresetName, WeightTypeName, ensureModel } from '../support/models.js';

const THREADS = 2;

interface Case {
  readonly preset: PresetName;
  readonly type: WeightTypeName;
  readonly tokens: number;
  /** Plausible decode speed on a loaded 2-core VM up to a fast desktop, tokens/s. */
  readonly tps: readonly [number, number];
}

const CASES: readonly Case[] = [
  { preset: 'tiny', type: 'f16', tokens: 24, tps: [0.5, 20_000] },
  { preset: 'tiny', type: 'q8_0', tokens: 24, tps: [0.5, 20_000] },
  { preset: 'moe', type: 'q8_0', tokens: 24, tps: [0.5, 20_000] },
  // ~15 tokens/s here when the machine is idle: 8 tokens keep the file short.
  { preset: 'tinyllama-1.1b', type: 'q8_0', tokens: 8, tps: [0.05, 500] },
];

const models = new Map<string, string>();
const key = (c: Pick<Case, 'preset' | 'type'>): string => `${c.preset}-${c.type}`;

beforeAll(() => {
  if (!nlcInstalled()) throw new Error(`node-llama-cpp is not installed at ${NLC_ENTRY}: run scripts/setup.sh`);
  for (const c of CASES) models.set(key(c), ensureModel(c.preset, c.type));
});

function expectSane(r: GenerateResult | undefined, c: Case): asserts r is GenerateResult {
  expect(r).toBeDefined();
  if (!r) return;
  expect(r.generated_tokens).toBe(c.tokens);
  expect(r.prompt_tokens).toBeGreaterThan(1);
  expect(r.text.trim().length).toBeGreaterThan(0);
  for (const ms of [r.load_ms, r.ttft_ms]) {
    expect(Number.isFinite(ms)).toBe(true);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(120_000);
  }
  const tps = r.decode_tokens_per_s ?? NaN;
  expect(tps).toBeGreaterThan(c.tps[0]);
  expect(tps).toBeLessThan(c.tps[1]);
  expect((r.tpot_ms ?? NaN) * tps).toBeCloseTo(1000, -1); // tpot is the inverse of the rate
}

describe('nlc_generate.mjs on generated models', () => {
  it.each(CASES)('$preset $type: loads and greedily generates $tokens tokens', async (c) => {
    const run = await runGenerate({ model: models.get(key(c)) as string, tokens: c.tokens, threads: THREADS });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.split('\n')[0]).toBe(`pid=${run.pid}`);
    expectSane(run.result, c);
    console.log(`${key(c)}: ${JSON.stringify(run.result)}`);
  }, 240_000);

  it('is deterministic: greedy decoding gives the same text twice', async () => {
    const model = models.get('tiny-f16') as string;
    const [a, b] = [await runGenerate({ model, tokens: 12 }), await runGenerate({ model, tokens: 12 })];
    expect(a.result?.text).toBeDefined();
    expect(b.result?.text).toBe(a.result?.text);
  });

  it('waits for SIGUSR1 after loading when asked, so a profiler can attach', async () => {
    const c = CASES[0] as Case;
    const child = spawn(process.execPath, generateArgs({ model: models.get(key(c)) as string, tokens: 8, waitForSignal: true }), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const waiting = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('waiting for SIGUSR1\n')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waiting;
    expect(stderr.startsWith(`pid=${child.pid}\n`)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(stdout).toBe(''); // nothing generated before the signal
    child.kill('SIGUSR1');
    expect(await exited).toBe(0);
    expectSane(JSON.parse(stdout) as GenerateResult, { ...c, tokens: 8 });
  });

  it('fails with one clear line for a missing model', async () => {
    const run = await runGenerate({ model: '/nonexistent/model.gguf', tokens: 4 });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([`pid=${run.pid}`, 'error: model not found: /nonexistent/model.gguf']);
  });
});
