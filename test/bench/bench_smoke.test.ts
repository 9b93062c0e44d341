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

/** Runs `node bench/SCRIPT --smoke --json OUT ...` and returns the parsed JSON and stdout (OUT: SCRIPT.json). */
function smoke(script: string, ...args: string[]): Promise<{ json: any; stdout: string }> {
  return smokeAs(`${script}.json`, script, ...args);
}

async function smokeAs(name: string, script: string, ...args: string[]): Promise<{ json: any; stdout: string }> {
  const out = join(dir, name);
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
    const tools = ['profinferd-graph', 'profinferd-structure', 'profinferd-node', 'profinferd-sched', 'profinferd-counters',
      'profinferd-sampled', 'bcc', 'bpftrace', 'perf'];
    const { json, stdout } = await smoke('compare.mjs'); // every tool by default
    expect(json.kind).toBe('compare');
    expect(json.smoke).toBe(true);
    expect(stdout).toContain('SMOKE');
    expectUnavailableExplained(json, tools);
    const ran = json.results.map((r: any) => r.tool);
    expect([...ran, ...json.unavailable.map((u: any) => u.tool)].sort()).toEqual([...tools].sort());
    for (const r of json.results) {
      for (const k of ['decodeSlowdownPct', 'decodeAddedUsPerToken', 'prefillSlowdownPct', 'eventsPerRun', 'lostMax', 'toolCpuPct', 'toolRssMB', 'traceBytesPerS']) {
        expect(finite(r[k]), `${r.tool}.${k} = ${r[k]}`).toBe(true);
      }
      expect(r.decodeSlowdownIqrPct).toHaveLength(2);
      expect(r.eventsPerRun, `${r.tool} recorded no events`).toBeGreaterThan(0);
      expect(r.toolRssMB).toBeGreaterThan(0);
    }
    // Same probes, same run shape: node-level tools see far more events than graph level.
    const events = Object.fromEntries(json.results.map((r: any) => [r.tool, r.eventsPerRun]));
    expect(events['profinferd-node']).toBeGreaterThan(events['profinferd-graph']);
    expect(events['profinferd-structure']).toBe(events['profinferd-graph']); // same tokens and graphs
    expect(events['profinferd-sched'], 'scheduler events on top of the node events').toBeGreaterThan(events['profinferd-node']);
    expect(events['profinferd-sampled']).toBeLessThan(events['profinferd-node']);
    if (events.bcc !== undefined) expect(events.bcc).toBe(events['profinferd-node']); // the same probes
  });

  it('compare.mjs --workload node-llama-cpp: the competitors probe the libraries node-llama-cpp really loaded', async () => {
    const tools = ['profinferd-node', 'bcc', 'bpftrace'];
    const { json } = await smokeAs('compare-nlc.json', 'compare.mjs', '--workload', 'node-llama-cpp', '--tools', tools.join(','));
    expect(json.workload).toMatch(/node-llama-cpp/);
    expectUnavailableExplained(json, tools);
    const events = Object.fromEntries(json.results.map((r: any) => [r.tool, r.eventsPerRun]));
    expect(events['profinferd-node'], 'profinferd saw no nodes in node-llama-cpp').toBeGreaterThan(100);
    // Same plan (libllama + the libggml-cpu variant from /proc/PID/maps): the same events.
    if (events.bcc !== undefined) expect(events.bcc).toBe(events['profinferd-node']);
    if (events.bpftrace !== undefined) expect(events.bpftrace).toBeGreaterThanOrEqual(events['profinferd-node']);
    for (const r of json.results) expect(finite(r.decodeSlowdownPct), `${r.tool} decode`).toBe(true);
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
    expectUnavailableExplained(json, ['profinferd-token', 'bcc', 'bpftrace', 'node sweep']);
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

    // Node sweep (graph_target on node-llama-cpp's real GGML CPU backend): only
    // unavailable where node-llama-cpp is not installed, and then it says why.
    const { nlcInstalled } = await import('../support/engine.js');
    const nodeUnavailable = json.unavailable.find((u: any) => u.tool === 'node sweep');
    if (!nlcInstalled()) {
      expect(String(nodeUnavailable?.reason)).toMatch(/node-llama-cpp|headers/);
      return;
    }
    expect(nodeUnavailable, `node sweep unavailable: ${nodeUnavailable?.reason}`).toBeUndefined();
    const node = json.nodeSweep.find((s: any) => s.tool === 'profinferd-node');
    expect(node, 'no profinferd-node row in nodeSweep').toBeDefined();
    for (const tool of ['bcc', 'bpftrace']) {
      const listed = json.unavailable.some((u: any) => u.tool === tool && u.sweep === 'node');
      expect(listed || json.nodeSweep.some((s: any) => s.tool === tool), `${tool}: no node-sweep row and not listed unavailable`).toBe(true);
    }
    for (const s of json.nodeSweep) {
      expect(s.calls, `${s.tool}: target computed no graphs`).toBeGreaterThan(0);
      // The target's own counts: every thread passes one barrier call per node.
      expect(s.expectedNodeEvents).toBe(s.calls * s.nodesPerGraph * s.threads);
      expect(s.nodeEvents, `${s.tool} recorded no node events`).toBeGreaterThan(0);
    }
    expect(node.nodeEvents).toBeGreaterThan(0);
    expect(node.nodeEvents, `profinferd-node: ${node.nodeEvents} node events for ${node.expectedNodeEvents} expected`).toBe(node.expectedNodeEvents);
    expect(node.lost).toBe(0);
    expect(node.events).toBe(node.expectedEvents); // one token and one graph per call too
    expect(node.lossFree).toBe(true);
    const best = json.maxLossFreeNodeEventsPerS.find((m: any) => m.tool === 'profinferd-node');
    expect(best.nodeEventsPerS).toBeGreaterThan(0);
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

  it('host_rate.mjs: decode, analysis and export rates of profinfer-host', async () => {
    const { json } = await smoke('host_rate.mjs');
    expect(json.kind).toBe('host');
    expect(json.nodeEvents).toBeGreaterThan(10_000);
    for (const k of ['decodeMPerS', 'analysisEndToEndMPerS', 'perfettoExportMPerS', 'modelBytesPerEvent', 'traceBytesPerNodeEvent', 'perfettoBytesPerNodeEvent']) {
      expect(json[k] > 0, `${k} = ${json[k]}`).toBe(true);
    }
  });

  it('report.mjs: tables and plot from the smoke results, labelled as smoke', async () => {
    const files = ['compare.mjs', 'eval_callback.mjs', 'throughput.mjs', 'fidelity.mjs', 'host_rate.mjs'].map((s) => join(dir, `${s}.json`));
    const svg = join(dir, 'plot.svg');
    const { stdout: md } = await execFileP('node', [join(REPO_ROOT, 'bench/report.mjs'), '--svg', svg, ...files], { encoding: 'utf8' });
    expect(md).toContain('| tool |');
    expect(md).toContain('SMOKE run');
    expect(md).toMatch(/profinferd-node/);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    // Hostile input: a file that is not a bench result is refused with one clear line.
    await expect(execFileP('node', [join(REPO_ROOT, 'bench/report.mjs'), join(REPO_ROOT, 'package.json')]))
      .rejects.toThrow(/error: .*kind must be compare, throughput, fidelity or host/);
  });
});
