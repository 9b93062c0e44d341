// Backends: graphs named by the backend that ran them, and node-level probe
// specs for non-CPU backends' per-node functions.
//
// No GPU here, and node-llama-cpp's CUDA prebuilt is not installed, so the
// non-CPU backend is emulated, and exactly this is emulated:
// - test/fixtures/backend/fake_backend.c, built here into a shared library, exports
//   ggml_cl_compute_forward(backend, tensor) (OpenCL's signature) and
//   fixture_kernel_run(queue, flags, tensor); both spin for tensor->op_params[0] us;
// - test/fixtures/backend/driver.c builds tensors in GGML's real layout (the
//   collector's "ggml-2025" profile, static-asserted in ggml_tensor_layout.h) and
//   struct ggml_backend objects whose guid is CUDA's, CPU's or made up, and calls
//   the REAL ggml_backend_graph_compute_async of node-llama-cpp's libggml-base.so
//   (dlopen'ed, so the collector attaches to it when the loader reports it), which
//   tail-calls the fake backend's graph_compute. The iface slot offset is read
//   from that library's own code (its `jmp *OFF(%rdi)`), not assumed.
// What is real: the collector, its BPF programs, libggml-base's entry point, the
// guid table, the uprobes on the fixture's functions. The CPU backend is checked
// for real on node-llama-cpp's prebuilt (its graphs named "CPU" via the guid).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecodedTrace, type GgmlFacts, type ProcResult, REPO_ROOT, ggmlFacts, ns, readTrace, requireProfinferd,
  requireRoot, requireTool, runProfinferd,
} from '../support/collector.js';
import { NLC_BINS_DIR, NLC_ENTRY, generateArgs, nlcInstalled } from '../support/engine.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { toChromeJson } from '../../host/src/export/chrome_json.js';
import type { v1 } from '../../host/src/proto.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'backend');
const N = 6; // nodes per graph
const SPIN_US = 3000; // each fixture kernel call spins this long
const ODD_GUID_HEX = '0102030405060708090a0b0c0d0e0f10';

let dir: string;
let driver: string;
let facts: GgmlFacts;
let libggmlBase: string;
let graphComputeOffset: number;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  const cc = requireTool('cc');
  requireTool('objdump');
  if (!nlcInstalled()) throw new Error(`node-llama-cpp is not installed at ${NLC_ENTRY}: run \`bash scripts/setup.sh\``);
  facts = ggmlFacts();
  dir = mkdtempSync(join(tmpdir(), 'pi-collector-backends-'));
  execFileSync(cc, ['-O1', '-g', '-shared', '-fPIC', '-o', join(dir, 'libpi-fakebackend.so'), join(FIXTURES, 'fake_backend.c')]);
  driver = join(dir, 'driver');
  execFileSync(cc, ['-O1', '-g', '-o', driver, join(FIXTURES, 'driver.c'), `-L${dir}`, '-lpi-fakebackend', `-Wl,-rpath,${dir}`, '-ldl']);
  libggmlBase = join(NLC_BINS_DIR, 'libggml-base.so');
  // The real entry point: `test %rdi,%rdi; je ...; jmp *OFF(%rdi)` (backend->iface.graph_compute).
  const dis = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--disassemble=ggml_backend_graph_compute_async`, libggmlBase], {
    encoding: 'utf8', maxBuffer: 64 << 20,
  });
  const m = /jmp\s+\*0x([0-9a-f]+)\(%rdi\)/.exec(dis);
  if (!m) throw new Error(`ggml_backend_graph_compute_async in ${libggmlBase} does not tail-call through backend->iface:\n${dis}`);
  graphComputeOffset = parseInt(m[1] as string, 16);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Recording {
  readonly run: ProcResult;
  readonly trace: DecodedTrace;
  readonly nodes: readonly v1.IBackendNodeEvent[];
}

async function record(name: string, extra: readonly string[], base: string): Promise<Recording> {
  const out = join(dir, `${name}.pftrace`);
  const opA = facts.opNames.indexOf('ADD');
  const opB = facts.opNames.indexOf('MUL_MAT');
  const r = await runProfinferd([
    'record', '-o', out, ...extra, '--', driver, base, String(graphComputeOffset), String(N), String(SPIN_US), String(opA), String(opB),
  ]);
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const trace = await readTrace(out);
  expect(trace.error).toBeUndefined();
  const nodes = trace.packets.flatMap((p) => (p.backendNode ? [p.backendNode] : []));
  return { run: r, trace, nodes };
}

const str = (t: DecodedTrace, iid: number | null | undefined): string => t.strings.get(iid ?? 0) ?? '';

describe('backend graphs and probe specs (emulated backend, real libggml-base)', () => {
  let rec: Recording;
  beforeAll(async () => {
    rec = await record('emulated', ['--backend-probes', '--probe', 'libpi-fakebackend.so:fixture_kernel_run:2:Fixture'], libggmlBase);
  }, 60_000);

  it('names each non-CPU graph from its guid and leaves the CPU backend to the CPU probe', () => {
    const t = rec.trace;
    // Three backend calls: CUDA's guid, CPU's, a made-up one. The CPU one has no
    // CPU graph probe here (no libggml-cpu), so it must give no GraphEvent at all.
    expect(t.graphs.map((g) => str(t, g.backendIid))).toEqual(['CUDA', `unknown:${ODD_GUID_HEX}`]);
    for (const g of t.graphs) {
      expect(g.nNodes).toBe(N);
      // The graph covers its N + 1 spinning kernel calls.
      expect(ns(g.durationNs)).toBeGreaterThanOrEqual(BigInt((N + 1) * SPIN_US * 1000));
    }
    expect(new Set(t.graphs.map((g) => ns(g.graphId))).size).toBe(2);
    expect(rec.run.stderr).toMatch(/backends: 0 CPU graphs named from their backend's guid, 2 graphs of other backends, 21 backend probe calls \(0 without a readable tensor\)/);
    expect(rec.run.stderr).not.toContain('warning: --backend-probes'); // the built-in OpenCL spec was found
    expect(rec.run.stderr).toContain('node-level probe on ggml_cl_compute_forward (tensor in argument 1, backend OpenCL)');
  });

  it('records one row per ggml_cl_compute_forward call with op, name, shape and duration from the tensor', () => {
    const t = rec.trace;
    const cl = rec.nodes.filter((n) => str(t, n.backendIid) === 'OpenCL');
    expect(cl).toHaveLength(3 * N); // N nodes in each of the three backend calls
    cl.forEach((n, k) => {
      const i = k % N;
      expect(str(t, n.functionIid)).toBe('ggml_cl_compute_forward');
      expect(str(t, n.opIid)).toBe(i % 2 ? 'MUL_MAT' : 'ADD');
      expect(str(t, n.nameIid)).toBe(`node_${i}`);
      expect((n.ne ?? []).map(Number)).toEqual([64 + i, 2, 1, 1]);
      expect(n.type).toBe(0);
      const d = ns(n.durationNs);
      expect(d).toBeGreaterThanOrEqual(BigInt(SPIN_US * 1000));
      expect(d).toBeLessThan(BigInt(SPIN_US * 1000 + 50_000_000));
    });
    // Rows inside the CUDA and made-up backends' graphs carry those graphs' ids;
    // rows in the CPU backend's call carry none (that graph is the CPU probe's).
    const byGraph = new Map<bigint, number>();
    for (const n of cl) byGraph.set(ns(n.graphId), (byGraph.get(ns(n.graphId)) ?? 0) + 1);
    expect([...byGraph.entries()].sort()).toEqual(
      [[0n, N], ...t.graphs.map((g) => [ns(g.graphId), N] as [bigint, number])].sort(),
    );
    // Each row lies inside its graph.
    for (const g of t.graphs) {
      const s = ns(g.startNs);
      const e = s + ns(g.durationNs);
      for (const n of cl.filter((r) => ns(r.graphId) === ns(g.graphId))) {
        expect(ns(n.startNs)).toBeGreaterThanOrEqual(s);
        expect(ns(n.startNs) + ns(n.durationNs)).toBeLessThanOrEqual(e);
      }
    }
  });

  it('records a --probe spec on a custom function, reading the tensor from argument 2', () => {
    const t = rec.trace;
    const fx = rec.nodes.filter((n) => str(t, n.backendIid) === 'Fixture');
    expect(fx).toHaveLength(3);
    for (const n of fx) {
      expect(str(t, n.functionIid)).toBe('fixture_kernel_run');
      expect(str(t, n.nameIid)).toBe('custom_dst');
      expect(str(t, n.opIid)).toBe('ADD');
      expect((n.ne ?? []).map(Number)).toEqual([7, 1, 1, 1]);
      expect(n.type).toBe(1);
      expect(ns(n.durationNs)).toBeGreaterThanOrEqual(BigInt(SPIN_US * 1000));
    }
    expect(rec.nodes).toHaveLength(3 * N + 3);
  });

  it('exports backend rows and graphs to the timeline', () => {
    const doc = JSON.parse(toChromeJson(rec.trace.packets).text) as { traceEvents: { ph: string; name: string; args?: Record<string, unknown> }[] };
    const slices = doc.traceEvents.filter((e) => e.ph === 'X');
    const backendRows = slices.filter((e) => e.args?.['function'] === 'ggml_cl_compute_forward');
    expect(backendRows).toHaveLength(3 * N);
    expect(backendRows.filter((e) => e.name === 'MUL_MAT' && e.args?.['backend'] === 'OpenCL')).toHaveLength(3 * (N / 2));
    expect(slices.filter((e) => e.name === 'graph CUDA')).toHaveLength(1);
  });
});

describe('probe spec validation', () => {
  const bad: readonly [string, RegExp][] = [
    ['libx.so:ggml_cl_compute_forward', /expected LIB:FUNC:ARG\[:BACKEND\]/],
    [':ggml_cl_compute_forward:1', /--probe: library:/],
    ['libx.so:9bad-name:1', /--probe: function: '9bad-name'/],
    ['libx.so:f:6', /--probe: tensor_arg: '6' is not a register argument/],
    ['libx.so:f:one', /--probe: tensor_arg: 'one'/],
    ['libx.so:f:1:', /--probe: backend:/],
  ];
  it.each(bad)('rejects --probe %s naming the field', async (spec, why) => {
    const r = await runProfinferd(['record', '-o', join(dir, 'never.pftrace'), '--probe', spec, '--', '/bin/true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects --probe below node level', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'never.pftrace'), '--level', 'graph', '--probe', 'l.so:f:1', '--', '/bin/true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--probe adds node-level probes: use it with --level node/);
  });

  it('rejects a bad ProbeSpec in a session configuration, naming the field', async () => {
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ probes: [{ library: 'libx.so', function: 'f', tensorArg: 9, backend: 'X' }] }));
    const r = await runProfinferd(['record', '-o', join(dir, 'never.pftrace'), '--config', cfg, '--', '/bin/true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/probes\[0\]\.tensorArg: 9 is not a register argument/);
  });

  it('applies a ProbeSpec from a session configuration', async () => {
    const cfg = join(dir, 'good.json');
    writeFileSync(cfg, JSON.stringify({ probes: [{ library: 'libpi-fakebackend*', function: 'fixture_kernel_run', tensorArg: 2, backend: 'FromConfig' }] }));
    const rec = await record('config', ['--config', cfg], '-');
    const fx = rec.nodes.filter((n) => str(rec.trace, n.backendIid) === 'FromConfig');
    expect(fx).toHaveLength(1); // the driver's direct run: one graph of N nodes, then one custom call
    expect(rec.nodes.filter((n) => str(rec.trace, n.backendIid) === 'OpenCL')).toHaveLength(N);
    expect(rec.trace.graphs).toHaveLength(0);
  });
});

describe('CPU backend on node-llama-cpp (real)', () => {
  it('names every CPU graph "CPU" from its backend guid, and adds no graph of its own', async () => {
    const out = join(dir, 'nlc.pftrace');
    const args = generateArgs({ model: ensureModel('tiny', 'q8_0'), tokens: 4, threads: 2 });
    const r = await runProfinferd(['record', '-o', out, '--level', 'graph', '--', process.execPath, ...args]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const t = await readTrace(out);
    expect(t.graphs.length).toBeGreaterThan(0);
    for (const g of t.graphs) expect(str(t, g.backendIid)).toBe('CPU');
    // Every graph the CPU probe recorded ran inside a CPU-guid backend call seen by the generic probe.
    expect(r.stderr).toContain(`backends: ${t.graphs.length} CPU graphs named from their backend's guid, 0 graphs of other backends`);
    // Graph ids stay the CPU probe's: one per graph, none taken by the generic probe.
    expect(t.graphs.map((g) => Number(ns(g.graphId)))).toEqual(t.graphs.map((_, i) => i + 1));
  }, 120_000);
});

describe('CPU backend in a static llama.cpp build (real)', () => {
  it('names every CPU graph from the guid at the split loop\'s inlined graph_compute calls', async () => {
    const out = join(dir, 'static.pftrace');
    const r = await runProfinferd([
      'record', '-o', out, '-v', '--level', 'graph', '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '4', 'Hi',
    ]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    // ggml_backend_graph_compute_async is inlined into ggml_backend_sched_compute_splits here.
    expect(r.stderr).toMatch(/backend graphs from [1-9]\d* inlined graph_compute call\(s\)/);
    const t = await readTrace(out);
    expect(t.graphs.length).toBeGreaterThan(0);
    for (const g of t.graphs) expect(str(t, g.backendIid)).toBe('CPU');
    expect(r.stderr).toContain(`backends: ${t.graphs.length} CPU graphs named from their backend's guid, 0 graphs of other backends`);
  }, 120_000);
});
