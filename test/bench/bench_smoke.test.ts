// Every benchmark in bench/ runs once in its smoke size (seconds each) so that
// none of them rots: each must exit 0 and write --json output of the documented
// shape, and every tool it ran must have recorded events. Nothing here looks at
// a timing (CI never gates on timings; the machine is shared and noisy).
//
// Benchmark-only tools (BCC, bpftrace, perf) are not CI dependencies: a tool the
// script could not run must be listed under `unavailable` with its reason, and
// PROFINFER_BENCH_REQUIRE_ALL=1 turns that into a failure (on a benchmark machine).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, requireProfinferd, requireRoot } from '../support/collector.js';
import { ensureModel } from '../support/models.js';

const REQUIRE_ALL = process.env.PROFINFER_BENCH_REQUIRE_ALL === '1';
let dir: string;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  ensureModel('tiny', 'q8_0');
  dir = mkdtempSync(join(tmpdir(), 'pi-bench-smoke-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Asynchronous: a blocking child would starve vitest's worker RPC on a loaded machine.
const execFileP = promisify(execFile);

/** Runs `node bench/SCRIPT --smoke --json OUT ...` and returns the parsed JSON and stdout. */
async function smoke(script: string, ...args: string[]): Promise<{ json: any; stdout: string }> {
  const out = join(dir, `${script}.json`);
  const { stdout } = await execFileP('node', [join(REPO_ROOT, 'bench', script), '--smoke', '--json', out, ...args], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20,
  });
  return { json: JSON.parse(readFileSync(out, 'utf8')), stdout };
}

const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

function expectUnavailableExplained(json: any, asked: string[]): void {
  expect(Array.isArray(json.unavailable)).toBe(true);
  for (const u of json.unavailable) {
    expect(asked).toContain(u.tool);
    expect(u.tool).not.toMatch(/^profinferd/); // our own collector is never optional
    expect(String(u.reason).length).toBeGreaterThan(10);
  }
  if (REQUIRE_ALL) expect(json.unavailable).toEqual([]);
}

describe('bench smoke runs (shape and events, never timings)', { timeout: 300_000 }, () => {
  it('compare.mjs: every tool recorded events or says why it could not run', async () => {
    const tools = ['profinferd-graph', 'profinferd-node', 'bcc', 'bpftrace', 'perf'];
    const { json, stdout } = await smoke('compare.mjs', '--tools', tools.join(','));
    expect(json.kind).toBe('compare');
    expect(json.smoke).toBe(true);
    expect(stdout).toContain('SMOKE');
    expectUnavailableExplained(json, tools);
    const ran = json.results.map((r: any) => r.tool);
    expect([...ran, ...json.unavailable.map((u: any) => u.tool)].sort()).toEqual([...tools].sort());
    for (const r of json.results) {
      for (const k of ['decodeSlowdownPct', 'prefillSlowdownPct', 'eventsPerRun', 'lostMax', 'toolCpuPct', 'toolRssMB', 'traceBytesPerS']) {
        expect(finite(r[k]), `${r.tool}.${k} = ${r[k]}`).toBe(true);
      }
      expect(r.decodeSlowdownIqrPct).toHaveLength(2);
      expect(r.eventsPerRun, `${r.tool} recorded no events`).toBeGreaterThan(0);
      expect(r.toolRssMB).toBeGreaterThan(0);
    }
    // Same probes, same run shape: node-level tools see far more events than graph level.
    const events = Object.fromEntries(json.results.map((r: any) => [r.tool, r.eventsPerRun]));
    expect(events['profinferd-node']).toBeGreaterThan(events['profinferd-graph']);
    if (events.bcc !== undefined) expect(events.bcc).toBeGreaterThan(events['profinferd-graph']);
  });

  it('eval_callback.mjs: llama-eval-callback printed tensors and the prompt decode was timed', async () => {
    const { json } = await smoke('eval_callback.mjs');
    expect(json.kind).toBe('compare');
    const [r] = json.results;
    expect(r.tool).toBe('llama-eval-callback');
    expect(r.eventsPerRun).toBeGreaterThan(10);
    expect(finite(r.prefillSlowdownPct)).toBe(true);
    expect(r.decodeSlowdownPct).toBeNull(); // it generates nothing: no decode figure, not a zero
  });

  it('throughput.mjs: counts match the target\'s own call count; bias measured', async () => {
    const { json } = await smoke('throughput.mjs');
    expect(json.kind).toBe('throughput');
    expectUnavailableExplained(json, ['profinferd-token', 'bcc', 'bpftrace']);
    expect(json.sweep.length).toBeGreaterThan(0);
    for (const s of json.sweep) {
      expect(s.calls, `${s.tool}: target made no calls`).toBeGreaterThan(0);
      expect(s.expectedEvents).toBe(2 * s.calls);
      expect(s.events, `${s.tool} recorded no events`).toBeGreaterThan(0);
      // Not a timing: every call is either recorded or counted as lost by the tool.
      expect(s.events + s.lost, `${s.tool}: ${s.events} events + ${s.lost} lost for ${s.calls} calls`).toBe(s.expectedEvents);
      // profinferd's 4 MiB ring holds a whole smoke run (4,000 events) even if its
      // reader never ran; BCC's 8 pages per CPU do not, so only ours must be loss-free.
      if (s.tool === 'profinferd-token') expect(s.lossFree).toBe(true);
    }
    const pd = json.bias.find((b: any) => b.tool === 'profinferd-token');
    expect(finite(pd.addedCallerNsMedian)).toBe(true);
    expect(finite(pd.traceMinusTrueNsMedian)).toBe(true);
  });

  it('fidelity.mjs: engine totals and eval-callback order were read and compared', async () => {
    const { json } = await smoke('fidelity.mjs');
    expect(json.kind).toBe('fidelity');
    const [t] = json.timing;
    expect(t.decodeCallsTrace).toBe(t.decodeCallsEngine); // an exact count, not a timing
    expect(t.lost).toBe(0);
    for (const k of ['promptTraceMs', 'promptEngineMs', 'decodeTraceMs', 'decodeEngineMs', 'nodeCoveragePct']) expect(finite(t[k])).toBe(true);
    expect(json.structure.engineTensors).toBeGreaterThan(10);
    expect(json.structure.traceNodes).toBeGreaterThan(0);
    expect(finite(json.structure.inOrderMatchedPct)).toBe(true);
  });

  it('overhead.mjs: the profinferd level sweep runs', async () => {
    const { json } = await smoke('overhead.mjs', '--levels', 'graph,node');
    expect(Array.isArray(json)).toBe(true);
    const node = json.find((r: any) => r.level === 'node');
    expect(node.nodeEventsPerRun).toBeGreaterThan(0);
    expect(finite(node.lost)).toBe(true);
  });

  it('report.mjs: tables and plot from the smoke results, labelled as smoke', async () => {
    const files = ['compare.mjs', 'eval_callback.mjs', 'throughput.mjs', 'fidelity.mjs'].map((s) => join(dir, `${s}.json`));
    const svg = join(dir, 'plot.svg');
    const { stdout: md } = await execFileP('node', [join(REPO_ROOT, 'bench/report.mjs'), '--svg', svg, ...files], { encoding: 'utf8' });
    expect(md).toContain('| tool |');
    expect(md).toContain('SMOKE run');
    expect(md).toMatch(/profinferd-node/);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    // Hostile input: a file that is not a bench result is refused with one clear line.
    await expect(execFileP('node', [join(REPO_ROOT, 'bench/report.mjs'), join(REPO_ROOT, 'package.json')]))
      .rejects.toThrow(/error: .*kind must be compare, throughput or fidelity/);
  });
});
