// roofline.ts: memory- or compute-bound, per node and per op, from tensor
// shapes and types alone (no PMU needed). FLOPs and bytes moved per node
// execution are estimated from the GraphStructure (weights by their
// quantised size), achieved GFLOP/s and GB/s from the node's wall time, and
// the verdict compares the node's arithmetic intensity with the machine's
// ridge point (peak GFLOP/s / peak GB/s). Where the trace has per-node
// counters that speak to it (backend stall cycles, last-level cache misses,
// instructions and cycles), a clear counter reading decides instead, and each
// row's `evidence` says which did.
import type { Dag, DagNode, DagSource } from './dag.js';
import { tensorBytes } from './ggml_types.js';

export interface Peaks {
  readonly gflops: number;
  readonly gbps: number;
  /** Where the figures come from: "user", "micro-benchmark", "observed". */
  readonly source: string;
}

export interface NodeCost {
  /** Floating-point operations per execution. */
  readonly flops: number;
  /** Bytes read and written per execution (each source once, the output once). */
  readonly bytes: number;
}

export type Verdict = 'memory' | 'compute' | 'none';

export interface RooflineRow {
  /** Op name, or "op name" for a node row. */
  readonly key: string;
  readonly executions: number;
  readonly flops: number;
  readonly bytes: number;
  readonly wallNs: number;
  /** flops / bytes. */
  readonly intensity: number;
  readonly gflops: number;
  readonly gbps: number;
  readonly verdict: Verdict;
  /** Achieved over the roof at its intensity: min(peak GFLOP/s, intensity x peak GB/s). */
  readonly efficiency: number;
  /** What decided the verdict: "shapes", or the counter reading ("counters: ..."). */
  readonly evidence: string;
}

export interface Roofline {
  readonly peaks: Peaks;
  /** peak GFLOP/s / peak GB/s: intensities above it are compute-bound. */
  readonly ridge: number;
  readonly ops: readonly RooflineRow[];
  /** Per DAG node with time (structure id, node index). */
  readonly nodes: readonly (RooflineRow & { readonly structureId: string; readonly index: number; readonly name: string })[];
  /** Which evidence decided, over all rows (each row has its own). */
  readonly evidence: string;
}

const elements = (ne: readonly number[]) => ne.reduce((p, v) => p * Math.max(1, v), 1);

/** FLOPs per output element of element-wise ops (rough: what the kernel computes per value). */
const ELEMENTWISE_FLOPS: Readonly<Record<string, number>> = {
  ADD: 1, SUB: 1, MUL: 1, DIV: 1, SCALE: 1, ADD1: 1, ACC: 1, SQR: 1, SQRT: 1,
  RMS_NORM: 3, NORM: 5, GROUP_NORM: 5, L2_NORM: 3,
  SOFT_MAX: 5, ROPE: 6, SILU: 4, GELU: 8, GELU_QUICK: 4, RELU: 1, SIGMOID: 4, TANH: 4, EXP: 2,
  SWIGLU: 5, GEGLU: 9, REGLU: 2, GEGLU_QUICK: 5, SWIGLU_OAI: 6,
  ADD_ID: 1, CLAMP: 1, SUM_ROWS: 1, MEAN: 1, ARGSORT: 8, TOP_K: 8, CONCAT: 0, PAD: 0,
};

function sourceShape(dag: Dag, s: DagSource): { type: number; ne: readonly number[] } {
  return s.kind === 'node' ? (dag.nodes[s.index] as DagNode) : dag.inputs[s.index] ?? { type: 0, ne: [] };
}

/** FLOPs and bytes of one execution of a node, from shapes and types. */
export function nodeCost(dag: Dag, node: DagNode): NodeCost {
  if (node.view) return { flops: 0, bytes: 0 };
  const out = elements(node.ne);
  const outBytes = tensorBytes(node.type, out);
  const srcs = node.sources.map((s) => sourceShape(dag, s));
  const srcBytes = (i: number) => {
    const s = srcs[i];
    return s ? tensorBytes(s.type, elements(s.ne)) : 0;
  };
  const allSrcBytes = srcs.reduce((sum, _, i) => sum + srcBytes(i), 0);
  switch (node.op) {
    case 'MUL_MAT': {
      // src0 [K, M, ...] (weights), src1 [K, N, ...], out [M, N, ...].
      const k = srcs[0]?.ne[0] ?? 0;
      return { flops: 2 * k * out, bytes: allSrcBytes + outBytes };
    }
    case 'MUL_MAT_ID': {
      // src0 [K, M, n_expert], src1 [K, n_used or 1, n_tokens], ids [n_used, n_tokens].
      const w = srcs[0];
      const k = w?.ne[0] ?? 0;
      const nExpert = Math.max(1, w?.ne[2] ?? 1);
      const ids = srcs[2] ? elements(srcs[2].ne) : nExpert;
      const touched = Math.min(nExpert, ids);
      return { flops: 2 * k * out, bytes: (srcBytes(0) * touched) / nExpert + srcBytes(1) + srcBytes(2) + outBytes };
    }
    case 'FLASH_ATTN_EXT': {
      // q [D, n_q, H], k [D, n_kv, H_kv], v [Dv, n_kv, H_kv]: QK^T and PV over the whole K/V view.
      const q = srcs[0]?.ne ?? [];
      const kk = srcs[1]?.ne ?? [];
      const v = srcs[2]?.ne ?? [];
      const d = q[0] ?? 0;
      const nq = (q[1] ?? 1) * (q[2] ?? 1) * (q[3] ?? 1);
      const nkv = kk[1] ?? 0;
      const dv = v[0] ?? d;
      return { flops: 2 * d * nkv * nq + 2 * dv * nkv * nq + 5 * nkv * nq, bytes: allSrcBytes + outBytes };
    }
    case 'GET_ROWS':
      // Reads only the selected rows of src0 (as many values as the output) and the ids.
      return { flops: 0, bytes: tensorBytes(srcs[0]?.type ?? 0, out) + srcBytes(1) + outBytes };
    case 'SET_ROWS':
      // Writes the rows of src0 into the destination view: read src0 and ids, write as many values.
      return { flops: 0, bytes: srcBytes(0) + srcBytes(1) + tensorBytes(node.type, elements(srcs[0]?.ne ?? [])) };
    case 'CPY':
    case 'DUP':
    case 'CONT':
      return { flops: 0, bytes: srcBytes(0) + outBytes };
    default: {
      const f = ELEMENTWISE_FLOPS[node.op] ?? 1;
      return { flops: f * out, bytes: allSrcBytes + outBytes };
    }
  }
}

/** Counter names (as recorded: perf's generic names, Arm PMU events) by what they measure. */
const COUNTER_ROLES = {
  cycles: ['cycles', 'cpu-cycles', 'armv8:cpu_cycles'],
  instructions: ['instructions', 'armv8:inst_retired'],
  backendStalls: ['stalled-cycles-backend', 'armv8:stall_backend'],
  cacheMisses: ['cache-misses', 'LLC-load-misses', 'armv8:l3d_cache_refill', 'armv8:ll_cache_miss_rd'],
} as const;

// Thresholds of a clear reading; between them the shapes decide.
/** Backend stall cycles per cycle at or above which the core waits on memory. */
const STALL_MEMORY = 0.5;
const STALL_COMPUTE = 0.2;
/** Last-level misses per 1000 instructions. */
const MPKI_MEMORY = 10;
const MPKI_COMPUTE = 1;
/** Instructions per cycle. */
const IPC_MEMORY = 0.5;
const IPC_COMPUTE = 2;

function counterOf(counters: Readonly<Record<string, number>>, names: readonly string[]): { name: string; value: number } | undefined {
  for (const name of names) {
    const value = counters[name];
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/**
 * The verdict per-node counters give, if they give a clear one: backend
 * stalls per cycle first (the most direct), then cache misses per 1000
 * instructions, then instructions per cycle. Counter sums cover the measured
 * rows only; ratios of two counters of the same rows stay meaningful.
 */
export function counterVerdict(counters: Readonly<Record<string, number>>): { verdict: 'memory' | 'compute'; evidence: string } | undefined {
  const cycles = counterOf(counters, COUNTER_ROLES.cycles);
  const instructions = counterOf(counters, COUNTER_ROLES.instructions);
  const stalls = counterOf(counters, COUNTER_ROLES.backendStalls);
  const misses = counterOf(counters, COUNTER_ROLES.cacheMisses);
  if (stalls && cycles && cycles.value > 0) {
    const share = stalls.value / cycles.value;
    const text = `counters: ${stalls.name} ${(100 * share).toFixed(0)}% of ${cycles.name}`;
    if (share >= STALL_MEMORY) return { verdict: 'memory', evidence: text };
    if (share <= STALL_COMPUTE) return { verdict: 'compute', evidence: text };
  }
  if (misses && instructions && instructions.value > 0) {
    const mpki = (1000 * misses.value) / instructions.value;
    const text = `counters: ${misses.name} ${mpki.toFixed(1)} per 1000 ${instructions.name}`;
    if (mpki >= MPKI_MEMORY) return { verdict: 'memory', evidence: text };
    if (mpki <= MPKI_COMPUTE && !(cycles && cycles.value > 0 && instructions.value / cycles.value < IPC_MEMORY))
      return { verdict: 'compute', evidence: text };
  }
  if (instructions && cycles && cycles.value > 0) {
    const ipc = instructions.value / cycles.value;
    const text = `counters: ${instructions.name} / ${cycles.name} = ${ipc.toFixed(2)}`;
    if (ipc <= IPC_MEMORY) return { verdict: 'memory', evidence: text };
    if (ipc >= IPC_COMPUTE) return { verdict: 'compute', evidence: text };
  }
  return undefined;
}

function row(
  key: string, executions: number, flops: number, bytes: number, wallNs: number, peaks: Peaks,
  counters: Readonly<Record<string, number>> = {},
): RooflineRow {
  const intensity = bytes > 0 ? flops / bytes : flops > 0 ? Infinity : 0;
  const gflops = wallNs > 0 ? flops / wallNs : 0; // flop/ns = GFLOP/s
  const gbps = wallNs > 0 ? bytes / wallNs : 0;
  const ridge = peaks.gflops / peaks.gbps;
  const shapes: Verdict = flops === 0 && bytes === 0 ? 'none' : intensity >= ridge ? 'compute' : 'memory';
  const measured = shapes === 'none' ? undefined : counterVerdict(counters);
  const verdict = measured?.verdict ?? shapes;
  const evidence = measured === undefined ? 'shapes' : `${measured.evidence}${measured.verdict === shapes ? '' : ` (shapes said ${shapes})`}`;
  const roof = Math.min(peaks.gflops, intensity * peaks.gbps);
  const efficiency = verdict === 'none' ? 0 : verdict === 'compute' ? gflops / peaks.gflops : roof > 0 ? gflops / roof : gbps / peaks.gbps;
  return { key, executions, flops, bytes, wallNs, intensity, gflops, gbps, verdict, efficiency, evidence };
}

/**
 * The roofline of every timed node and op. Measured peaks (source other than
 * "user") below what the trace itself achieved are raised to the best
 * achieved figure, and the source says so; the user's peaks are kept as given.
 */
export function roofline(dags: readonly Dag[], peaks: Peaks): Roofline {
  interface Acc {
    executions: number;
    flops: number;
    bytes: number;
    wall: number;
    counters: Record<string, number>;
  }
  const ops = new Map<string, Acc>();
  const perNode: { dag: Dag; node: DagNode; cost: NodeCost }[] = [];
  let bestG = 0;
  let bestB = 0;
  for (const dag of dags) {
    for (const node of dag.nodes) {
      if (node.executions === 0 || node.view) continue;
      // A fused kernel does the work of its followers too.
      let cost = nodeCost(dag, node);
      for (let k = 1; k <= node.fusedCount; k++) {
        const f = dag.nodes[node.index + k];
        if (f) {
          const c = nodeCost(dag, f);
          cost = { flops: cost.flops + c.flops, bytes: cost.bytes + c.bytes };
        }
      }
      perNode.push({ dag, node, cost });
      const key = node.fusedCount > 0 ? dag.nodes.slice(node.index, node.index + node.fusedCount + 1).map((n) => n.op).join('+') : node.op;
      const a = ops.get(key) ?? { executions: 0, flops: 0, bytes: 0, wall: 0, counters: {} };
      for (const [name, v] of Object.entries(node.counters)) a.counters[name] = (a.counters[name] ?? 0) + v;
      a.executions += node.executions;
      a.flops += cost.flops * node.executions;
      a.bytes += cost.bytes * node.executions;
      a.wall += node.wallNs;
      ops.set(key, a);
      // Only nodes long enough to time well (>= 20 us mean) set observed peaks.
      if (node.wallNs / node.executions >= 20_000) {
        bestG = Math.max(bestG, (cost.flops * node.executions) / node.wallNs);
        bestB = Math.max(bestB, (cost.bytes * node.executions) / node.wallNs);
      }
    }
  }
  let used = peaks;
  if (peaks.source !== 'user' && (bestG > peaks.gflops || bestB > peaks.gbps)) {
    used = {
      gflops: Math.max(peaks.gflops, bestG),
      gbps: Math.max(peaks.gbps, bestB),
      source: `${peaks.source}, raised to what the trace achieved`,
    };
  }
  const opRows = [...ops]
    .map(([k, a]) => row(k, a.executions, a.flops, a.bytes, a.wall, used, a.counters))
    .sort((a, b) => b.wallNs - a.wallNs);
  const nodeRows = perNode
    .map(({ dag, node, cost }) => ({
      ...row(node.op, node.executions, cost.flops * node.executions, cost.bytes * node.executions, node.wallNs, used, node.counters),
      structureId: dag.structureId,
      index: node.index,
      name: node.name,
    }))
    .sort((a, b) => b.wallNs - a.wallNs);
  return {
    peaks: used,
    ridge: used.gflops / used.gbps,
    ops: opRows,
    nodes: nodeRows,
    evidence: overallEvidence([...opRows, ...nodeRows], dags),
  };
}

/** What decided, over all rows: shapes only, or counters where they gave a clear reading. */
function overallEvidence(rows: readonly RooflineRow[], dags: readonly Dag[]): string {
  const shapes = 'tensor shapes and types (FLOPs and bytes estimated)';
  const recorded = new Set<string>();
  for (const d of dags) for (const n of d.nodes) for (const name of Object.keys(n.counters)) recorded.add(name);
  const useful = new Set<string>(Object.values(COUNTER_ROLES).flat());
  const used = [...recorded].filter((n) => useful.has(n)).sort();
  if (used.length === 0) {
    return recorded.size === 0
      ? `${shapes}; no hardware counters recorded`
      : `${shapes}; the counters recorded (${[...recorded].sort().join(', ')}) do not tell memory from compute`;
  }
  const decided = rows.filter((r) => r.evidence !== 'shapes').length;
  return `${shapes}, and counters ${used.join(', ')} where they read clearly (${decided} of ${rows.length} rows; see each row's evidence)`;
}

/**
 * A small micro-benchmark of this machine (about 0.3 s, one thread):
 * memory bandwidth as the best of a few 64 MiB Float64Array copies (read +
 * write counted), and compute as a tight loop of independent double
 * multiply-adds, times the number of CPUs. JavaScript runs scalar code, so
 * the compute figure understates SIMD kernels: pass --peaks for real figures.
 */
export function measurePeaks(cpus: number): Peaks {
  const n = 8 * 1024 * 1024; // 64 MiB of float64
  const a = new Float64Array(n).fill(1);
  const b = new Float64Array(n);
  let bestCopy = Infinity;
  for (let rep = 0; rep < 4; rep++) {
    const t0 = performance.now();
    b.set(a);
    const t = performance.now() - t0;
    bestCopy = Math.min(bestCopy, t);
  }
  const gbps = (2 * n * 8) / (bestCopy * 1e6);
  const iters = 20_000_000;
  let x0 = 1.0, x1 = 1.1, x2 = 1.2, x3 = 1.3;
  const m = 0.999999, c = 1e-7;
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    x0 = x0 * m + c;
    x1 = x1 * m + c;
    x2 = x2 * m + c;
    x3 = x3 * m + c;
  }
  const ms = performance.now() - t0;
  const sink = x0 + x1 + x2 + x3 + (b[n - 1] as number);
  const gflops = ((iters * 8) / (ms * 1e6)) * Math.max(1, cpus) + (sink > Infinity ? 1 : 0);
  return { gflops, gbps, source: `micro-benchmark (1-thread copy; scalar multiply-add x ${cpus} CPUs)` };
}

export function rooflineToJson(r: Roofline): Record<string, unknown> {
  const j = (x: RooflineRow) => ({
    key: x.key,
    executions: x.executions,
    flops: x.flops,
    bytes: x.bytes,
    wall_ns: x.wallNs,
    intensity: Number.isFinite(x.intensity) ? x.intensity : null,
    gflops: x.gflops,
    gbps: x.gbps,
    verdict: x.verdict,
    efficiency: x.efficiency,
    evidence: x.evidence,
  });
  return {
    peaks: r.peaks,
    ridge: r.ridge,
    evidence: r.evidence,
    ops: r.ops.map(j),
    nodes: r.nodes.map((x) => ({ structure_id: x.structureId, index: x.index, name: x.name, ...j(x) })),
  };
}
