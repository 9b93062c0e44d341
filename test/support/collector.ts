// The collector under test: where profinferd is, running it (to completion or
// in the background), reading the trace it wrote into decoded packets and a
// summary, and the independent oracles the end-to-end tests in test/collector/
// compare it with (GGML's own headers, gdb, the kernel's view of BPF objects).
//
// Everything here fails loudly, naming `bash scripts/setup.sh`, when something
// it needs is missing: an end-to-end suite that skips proves nothing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePacket } from '../../host/src/decode/packets.js';
import { TraceReadError, readTraceFile } from '../../host/src/decode/stream_reader.js';
import { SummaryBuilder, type TraceSummary } from '../../host/src/model/summary.js';
import { longToBigInt, type TracePacket, type v1 } from '../../host/src/proto.js';
import { LLAMA_CPP_CURRENT, llamaCppDir } from './llama_cpp.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Built by scripts/setup/30_collector.sh. */
export const PROFINFERD = join(REPO_ROOT, 'build', 'collector-c', 'profinferd');

export const SETUP_HINT = 'run `bash scripts/setup.sh` (as root)';

/**
 * How the collector under test probes node level: PROFINFER_NODE_PROBES (auto, one,
 * two; profinferd reads it as the default of --node-probes), so the whole suite runs
 * in either mode: `PROFINFER_NODE_PROBES=two npx vitest run test/collector`.
 */
export const NODE_PROBES: 'auto' | 'one' | 'two' = ((): 'auto' | 'one' | 'two' => {
  const m = process.env.PROFINFER_NODE_PROBES ?? 'auto';
  if (m !== 'auto' && m !== 'one' && m !== 'two') throw new Error(`PROFINFER_NODE_PROBES must be auto, one or two, not '${m}'`);
  return m;
})();

/**
 * Node-level probes (AttachedProbe name and how) of an engine file in this mode. Both
 * x86-64 builds the tests run (node-llama-cpp's CPU variants, the static OpenMP
 * llama.cpp) have the loop pattern the one-probe mode needs, so auto means one here.
 */
export function expectedNodeProbes(): { readonly name: string; readonly how: string }[] {
  return NODE_PROBES === 'two'
    ? [{ name: 'node_dispatch', how: 'call-site' }, { name: 'node_barrier', how: 'call-site' }]
    : [{ name: 'node_loop_barrier', how: 'call-site+counter' }];
}

/**
 * Names of every BPF program profinferd loads (node_loop_barrier only where the kernel
 * has BPF cookies), also as the kernel keeps them: cut to 15 characters (BPF_OBJ_NAME_LEN).
 */
export const PROGRAM_NAMES: readonly string[] = [
  'token_enter', 'token_exit', 'graph_enter', 'graph_exit', 'node_dispatch', 'node_fused', 'node_barrier',
  'node_loop_barrier', 'lib_loaded', 'moe_dispatch',
].flatMap((n) => (n.length > 15 ? [n, n.slice(0, 15)] : [n]));

/** profinferd's path; throws, saying how to build it, when it is missing. */
export function requireProfinferd(): string {
  if (!existsSync(PROFINFERD)) throw new Error(`${PROFINFERD} is missing: ${SETUP_HINT} to build the collector`);
  return PROFINFERD;
}

/** The end-to-end tests load BPF programs: they need root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the collector end-to-end tests load BPF programs and must run as root (sudo npx vitest run test/collector)');
  }
}

/** Path of a system tool (gdb, bpftool, setpriv); throws when it is not installed. */
export function requireTool(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} is not installed: ${SETUP_HINT} (scripts/setup/apt.sh installs it)`);
  }
}

// ---------------------------------------------------------------------------
// Processes

export interface ProcResult {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** SIGKILL after this long (default 120 s): a hung run fails instead of hanging the suite. */
  readonly timeoutMs?: number;
}

/** A process running in the background, its output collected as it comes. */
export class Proc {
  readonly child: ChildProcess;
  /** Resolves when the process itself exits (its children may still hold its stdout / stderr). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when it has exited and its stdout / stderr are closed (by every process that inherited them). */
  readonly done: Promise<ProcResult>;
  #stdout = '';
  #stderr = '';
  #waiters: (() => void)[] = [];
  #exited = false;

  constructor(bin: string, args: readonly string[], o: StartOptions = {}) {
    const t0 = performance.now();
    this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env, cwd: o.cwd ?? REPO_ROOT });
    const notify = (): void => {
      for (const w of this.#waiters.splice(0)) w();
    };
    this.child.stdout?.on('data', (d: Buffer) => {
      this.#stdout += d.toString();
      notify();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
      notify();
    });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.#exited = true;
        notify();
        resolve({
          pid: this.child.pid ?? -1,
          code,
          signal,
          stdout: this.#stdout,
          stderr: this.#stderr,
          wallMs: performance.now() - t0,
        });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first match of `re` in the stream; rejects on exit or timeout. */
  waitFor(stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} on ${stream}:\n${this.#tail(stream)}`)),
        timeoutMs,
      );
      const check = (): void => {
        const m = re.exec(stream === 'stdout' ? this.#stdout : this.#stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else if (this.#exited) {
          clearTimeout(timer);
          reject(new Error(`process ${this.pid} exited before ${re} appeared on ${stream}:\n${this.#tail(stream)}`));
        } else {
          this.#waiters.push(check);
        }
      };
      check();
    });
  }

  #tail(stream: 'stdout' | 'stderr'): string {
    return (stream === 'stdout' ? this.#stdout : this.#stderr).slice(-2000);
  }
}

/** Run a command to completion. */
export function run(bin: string, args: readonly string[], o: StartOptions = {}): Promise<ProcResult> {
  return new Proc(bin, args, o).done;
}

/** Start profinferd with these arguments (e.g. `['record', '-o', T, '--', ...]`). */
export function startProfinferd(args: readonly string[], o: StartOptions = {}): Proc {
  return new Proc(requireProfinferd(), args, o);
}

/** Run profinferd to completion. */
export function runProfinferd(args: readonly string[], o: StartOptions = {}): Promise<ProcResult> {
  return startProfinferd(args, o).done;
}

/** profinferd's own stderr lines (those it prints, not the target's). */
export function collectorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^(profinferd:|error:|warning:)/.test(l));
}

/** The PID of the target profinferd started, from its "recording process N" line. */
export function recordedPid(stderr: string): number | undefined {
  const m = /^profinferd: recording process (\d+)/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls `cond` every `everyMs` until it holds; throws `what` on timeout. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---------------------------------------------------------------------------
// Traces

/** One row of a NodeEventBatch, with its absolute node index and start time. */
export interface NodeRow {
  readonly nodeIndex: number;
  readonly startNs: bigint;
  readonly computeNs: bigint;
  readonly barrierNs: bigint;
  readonly fused: number;
}

/** A trace read back: every whole packet decoded, indexed by kind. */
export interface DecodedTrace {
  readonly packets: readonly TracePacket[];
  /** Why reading stopped before the end of the file, if it did (a cut or corrupt trace). */
  readonly error: TraceReadError | undefined;
  readonly summary: TraceSummary;
  readonly session: v1.ISessionInfo | undefined;
  readonly sessionEnd: v1.ISessionEnd | undefined;
  readonly modules: readonly v1.IModuleInfo[];
  readonly processes: readonly v1.IProcessInfo[];
  readonly threads: readonly v1.IThreadInfo[];
  readonly engines: ReadonlyMap<number, v1.IEngineInfo>;
  /** TokenEvents by seq. */
  readonly tokens: readonly v1.ITokenEvent[];
  /** GraphEvents by graph id. */
  readonly graphs: readonly v1.IGraphEvent[];
  readonly structures: ReadonlyMap<bigint, v1.IGraphStructure>;
  /** NodeEventBatches by graph id, in trace order. */
  readonly batches: ReadonlyMap<bigint, readonly v1.INodeEventBatch[]>;
  readonly strings: ReadonlyMap<number, string>;
}

/** Reads and decodes a trace file; a cut trace gives its whole packets and `error`. */
export async function readTrace(path: string): Promise<DecodedTrace> {
  const packets: TracePacket[] = [];
  let error: TraceReadError | undefined;
  try {
    for await (const raw of readTraceFile(path)) packets.push(decodePacket(raw));
  } catch (e) {
    if (!(e instanceof TraceReadError)) throw e;
    error = e;
  }
  const summaryBuilder = new SummaryBuilder();
  if (error) summaryBuilder.truncated = true;
  const modules: v1.IModuleInfo[] = [];
  const processes: v1.IProcessInfo[] = [];
  const threads: v1.IThreadInfo[] = [];
  const engines = new Map<number, v1.IEngineInfo>();
  const tokens: v1.ITokenEvent[] = [];
  const graphs: v1.IGraphEvent[] = [];
  const structures = new Map<bigint, v1.IGraphStructure>();
  const batches = new Map<bigint, v1.INodeEventBatch[]>();
  const strings = new Map<number, string>();
  let session: v1.ISessionInfo | undefined;
  let sessionEnd: v1.ISessionEnd | undefined;
  for (const p of packets) {
    summaryBuilder.add(p);
    if (p.session) session = p.session;
    else if (p.sessionEnd) sessionEnd = p.sessionEnd;
    else if (p.module) modules.push(p.module);
    else if (p.process) processes.push(p.process);
    else if (p.thread) threads.push(p.thread);
    else if (p.engine) engines.set(p.engine.pid ?? 0, p.engine);
    else if (p.token) tokens.push(p.token);
    else if (p.graph) graphs.push(p.graph);
    else if (p.graphStructure) structures.set(longToBigInt(p.graphStructure.structureId), p.graphStructure);
    else if (p.nodeEvents) {
      const id = longToBigInt(p.nodeEvents.graphId);
      const list = batches.get(id) ?? [];
      list.push(p.nodeEvents);
      batches.set(id, list);
    } else if (p.interned) for (const s of p.interned.strings ?? []) strings.set(s.iid ?? 0, s.str ?? '');
  }
  tokens.sort((a, b) => Number(longToBigInt(a.seq) - longToBigInt(b.seq)));
  graphs.sort((a, b) => Number(longToBigInt(a.graphId) - longToBigInt(b.graphId)));
  return {
    packets, error, summary: summaryBuilder.build(), session, sessionEnd, modules, processes, threads, engines,
    tokens, graphs, structures, batches, strings,
  };
}

/** The rows of one batch: cumulative node index, start times chained from start_ns. */
export function batchRows(b: v1.INodeEventBatch): NodeRow[] {
  const rows: NodeRow[] = [];
  const deltas = b.nodeIndexDelta ?? [];
  const compute = b.computeNs ?? [];
  const barrier = b.barrierNs ?? [];
  const fused = b.fused ?? [];
  let index = 0;
  let t = longToBigInt(b.startNs);
  for (let i = 0; i < deltas.length; i++) {
    index += deltas[i] ?? 0;
    const c = longToBigInt(compute[i]);
    const w = longToBigInt(barrier[i]);
    rows.push({ nodeIndex: index, startNs: t, computeNs: c, barrierNs: w, fused: fused[i] ?? 0 });
    t += c + w;
  }
  return rows;
}

/** LossStats counts summed by EventKind (EventKind.EVENT_KIND_NODE → count). */
export function lossByKind(counts: readonly v1.ILossCount[] | null | undefined): Record<number, bigint> {
  const out: Record<number, bigint> = {};
  for (const c of counts ?? []) out[c.kind ?? 0] = (out[c.kind ?? 0] ?? 0n) + longToBigInt(c.count);
  return out;
}

export const ns = (v: Parameters<typeof longToBigInt>[0]): bigint => longToBigInt(v);

// ---------------------------------------------------------------------------
// GGML, read from the source the llama.cpp tools were built from: the enum
// orders and flag values the trace must agree with, taken independently of
// the collector (which reads them from the target's binary).

/** ggml.h of the llama.cpp build (also node-llama-cpp's release: the build comes from its bundle). */
export function ggmlHeaderPath(): string {
  const path = join(llamaCppDir(), 'src', 'ggml', 'include', 'ggml.h');
  if (!existsSync(path)) throw new Error(`${path} is missing (source of ${LLAMA_CPP_CURRENT}): ${SETUP_HINT}`);
  return path;
}

/** The member names of `enum NAME { PREFIX_A = 0, PREFIX_B, ..., PREFIX_COUNT }`, prefix dropped, COUNT excluded. */
export function parseCEnum(header: string, enumName: string, prefix: string): string[] {
  const m = new RegExp(`enum ${enumName} \\{([\\s\\S]*?)\\};`).exec(header);
  if (!m) throw new Error(`enum ${enumName} not found`);
  const body = (m[1] as string).replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const names: string[] = [];
  for (const item of body.split(',')) {
    const im = new RegExp(`^\\s*${prefix}(\\w+)\\s*(?:=\\s*(\\d+))?\\s*$`).exec(item);
    if (!im) continue;
    const [, name, value] = im;
    if (value !== undefined && Number(value) !== names.length) {
      throw new Error(`enum ${enumName}: ${prefix}${name} = ${value} is not sequential`);
    }
    if (name === 'COUNT') break;
    names.push(name as string);
  }
  return names;
}

export interface GgmlFacts {
  readonly opNames: readonly string[];
  readonly unaryOpNames: readonly string[];
  readonly gluOpNames: readonly string[];
  /** GGML_TENSOR_FLAG_COMPUTE / _OUTPUT. */
  readonly flagCompute: number;
  readonly flagOutput: number;
  readonly typeF32: number;
}

export function ggmlFacts(): GgmlFacts {
  const h = readFileSync(ggmlHeaderPath(), 'utf8');
  const flag = (name: string): number => {
    const m = new RegExp(`GGML_TENSOR_FLAG_${name}\\s*=\\s*(\\d+)`).exec(h);
    if (!m) throw new Error(`GGML_TENSOR_FLAG_${name} not found in ggml.h`);
    return Number(m[1]);
  };
  const types = /enum ggml_type \{[\s\S]*?GGML_TYPE_F32\s*=\s*(\d+)/.exec(h);
  return {
    opNames: parseCEnum(h, 'ggml_op', 'GGML_OP_'),
    unaryOpNames: parseCEnum(h, 'ggml_unary_op', 'GGML_UNARY_OP_'),
    gluOpNames: parseCEnum(h, 'ggml_glu_op', 'GGML_GLU_OP_'),
    flagCompute: flag('COMPUTE'),
    flagOutput: flag('OUTPUT'),
    typeF32: Number(types?.[1] ?? NaN),
  };
}

/** ggml-impl.h `ggml_op_is_empty`: ops the CPU compute loop skips without a barrier. */
export const EMPTY_OPS: readonly string[] = ['NONE', 'RESHAPE', 'VIEW', 'PERMUTE', 'TRANSPOSE'];

export interface PlannedUnit {
  readonly nodeIndex: number;
  /** Extra nodes computed by the same (fused) kernel call. */
  readonly fused: number;
}

export interface GraphPlan {
  readonly units: readonly PlannedUnit[];
  /** Nodes the loop skips: empty ops, or no GGML_TENSOR_FLAG_COMPUTE. */
  readonly skippedEmpty: number;
  readonly skippedNoCompute: number;
}

/**
 * What ggml_graph_compute_thread (ggml-cpu.c) executes for this structure, worked
 * out from the recorded structure alone: skip empty ops and nodes without the
 * COMPUTE flag; fuse RMS_NORM with the following MUL when ggml_cpu_try_fuse_ops
 * would (ggml_can_fuse: same shape, MUL reads the norm, the norm has exactly one
 * use, is no view and no output; then F32 norm input, MUL and weight, and a
 * weight row as long as the norm's). Op names: the trace's EngineInfo.op_names
 * (default: ggml.h's, which the tests check they equal).
 */
export function planGraph(s: v1.IGraphStructure, facts: GgmlFacts, opNames: readonly string[] = facts.opNames): GraphPlan {
  const nodes = s.nodes ?? [];
  const op = (i: number): string => opNames[nodes[i]?.op ?? -1] ?? `op${nodes[i]?.op}`;
  const byId = new Map<bigint, { type: number; ne: bigint[] }>();
  for (const t of s.inputs ?? []) byId.set(ns(t.tensorId), { type: t.type ?? 0, ne: (t.ne ?? []).map(ns) });
  for (const n of nodes) byId.set(ns(n.tensorId), { type: n.type ?? 0, ne: (n.ne ?? []).map(ns) });
  const uses = new Map<bigint, number>();
  for (const n of nodes) {
    for (const src of n.srcTensorIds ?? []) {
      const id = ns(src);
      if (id !== 0n) uses.set(id, (uses.get(id) ?? 0) + 1);
    }
  }
  const computes = (i: number): boolean => ((nodes[i]?.flags ?? 0) & facts.flagCompute) !== 0;
  const sameShape = (a: readonly bigint[], b: readonly bigint[]): boolean =>
    a.length === b.length && a.every((x, k) => x === b[k]);
  const fusesWithNext = (i: number): boolean => {
    const norm = nodes[i];
    const mul = nodes[i + 1];
    if (!norm || !mul || op(i) !== 'RMS_NORM' || op(i + 1) !== 'MUL' || !computes(i + 1)) return false;
    const normId = ns(norm.tensorId);
    if (uses.get(normId) !== 1 || ns(norm.viewSrcId) !== 0n || ((norm.flags ?? 0) & facts.flagOutput) !== 0) return false;
    const [m0, m1] = (mul.srcTensorIds ?? []).map(ns);
    if (m0 !== normId && m1 !== normId) return false;
    const normNe = (norm.ne ?? []).map(ns);
    if (!sameShape((mul.ne ?? []).map(ns), normNe)) return false;
    const normSrc = byId.get(ns(norm.srcTensorIds?.[0]));
    const weight = byId.get((m0 === normId ? m1 : m0) ?? 0n);
    return (
      normSrc?.type === facts.typeF32 && (mul.type ?? 0) === facts.typeF32 && weight?.type === facts.typeF32 &&
      weight.ne[0] === normNe[0]
    );
  };
  const units: PlannedUnit[] = [];
  let skippedEmpty = 0;
  let skippedNoCompute = 0;
  for (let i = 0; i < nodes.length; i++) {
    if (EMPTY_OPS.includes(op(i))) skippedEmpty++;
    else if (!computes(i)) skippedNoCompute++;
    else if (fusesWithNext(i)) units.push({ nodeIndex: i++, fused: 1 });
    else units.push({ nodeIndex: i, fused: 0 });
  }
  return { units, skippedEmpty, skippedNoCompute };
}

// ---------------------------------------------------------------------------
// gdb: the graph sizes ggml itself sees

/**
 * Runs `bin args` under gdb with a breakpoint on the entry of ggml_graph_compute(cgraph, cplan)
 * that prints cgraph->n_nodes (`struct ggml_cgraph { int size; int n_nodes; ...}`,
 * first argument in %rdi on x86-64) at every hit. Returns the sequence and the run.
 */
export async function gdbGraphSizes(bin: string, args: readonly string[]): Promise<{ nNodes: number[]; run: ProcResult }> {
  const gdb = requireTool('gdb');
  if (process.arch !== 'x64') throw new Error(`gdbGraphSizes reads %rdi: x86-64 only, not ${process.arch}`);
  const script = [
    'set pagination off',
    'set confirm off',
    'set print thread-events off',
    'set print inferior-events off',
    'break *ggml_graph_compute', // the first instruction: %rdi is still the first argument
    'commands 1',
    'silent',
    'printf "\\nPI_GDB_N_NODES %d\\n", ((int*)$rdi)[1]',
    'continue',
    'end',
    'run',
  ];
  // "commands ... end" only works from a script file, not from -ex.
  const dir = mkdtempSync(join(tmpdir(), 'pi-gdb-'));
  try {
    const file = join(dir, 'graph_sizes.gdb');
    writeFileSync(file, script.join('\n') + '\n');
    const r = await run(gdb, ['-batch', '-nx', '-x', file, '--args', bin, ...args], { timeoutMs: 120_000 });
    const nNodes = [...r.stdout.matchAll(/^PI_GDB_N_NODES (\d+)$/gm)].map((m) => Number(m[1]));
    return { nNodes, run: r };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The kernel's view of BPF objects

export interface BpfObjects {
  readonly progIds: readonly number[];
  readonly linkIds: readonly number[];
  readonly mapIds: readonly number[];
}

/** BPF programs, links and maps a process holds, from /proc/PID/fdinfo. */
export function bpfObjectsOf(pid: number): BpfObjects {
  const progIds = new Set<number>();
  const linkIds = new Set<number>();
  const mapIds = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return { progIds: [], linkIds: [], mapIds: [] };
  }
  for (const fd of fds) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const field = (name: string): number | undefined => {
      const m = new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(info);
      return m ? Number(m[1]) : undefined;
    };
    if (target === 'anon_inode:bpf-prog') {
      const id = field('prog_id');
      if (id !== undefined) progIds.add(id);
    } else if (target === 'anon_inode:bpf_link') {
      const id = field('link_id');
      if (id !== undefined) linkIds.add(id);
    } else if (target === 'anon_inode:bpf-map') {
      const id = field('map_id');
      if (id !== undefined) mapIds.add(id);
    }
  }
  return { progIds: [...progIds], linkIds: [...linkIds], mapIds: [...mapIds] };
}

/** BPF program ids held by any process (scans every /proc/PID/fdinfo). */
export function heldProgIds(): Set<number> {
  const held = new Set<number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    for (const id of bpfObjectsOf(Number(pid)).progIds) held.add(id);
  }
  return held;
}

export interface BpftoolProg {
  readonly id: number;
  readonly type: string;
  readonly name?: string;
}

export interface BpftoolLink {
  readonly id: number;
  readonly type: string;
  readonly prog_id: number;
  readonly file?: string;
}

export function bpftoolProgs(): BpftoolProg[] {
  return JSON.parse(execFileSync(requireTool('bpftool'), ['-j', 'prog', 'list'], { encoding: 'utf8' }) || '[]') as BpftoolProg[];
}

export function bpftoolLinks(): BpftoolLink[] {
  return JSON.parse(execFileSync(requireTool('bpftool'), ['-j', 'link', 'list'], { encoding: 'utf8' }) || '[]') as BpftoolLink[];
}
