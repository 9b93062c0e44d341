// dag.ts: ProfDAG. The operator DAG of each distinct graph (one per
// GraphStructure), rebuilt from the recorded structure: an edge runs from the
// node producing each source tensor to the node reading it; weights and
// other tensors no node produces are inputs. Views (VIEW, RESHAPE, PERMUTE,
// TRANSPOSE: no compute) are resolved to the node that produced the data, so
// `producers` links computing nodes directly. Timing is folded over every
// graph compute that used the structure (executions.ts). Pure: model in,
// plain objects and strings out.
import { longToBigInt, type v1 } from '../proto.js';
import { forEachGraphExecution } from './executions.js';
import { VIEW_OPS, typeName } from './ggml_types.js';
import { classifyTensor, type Block } from './tensor_names.js';
import type { TraceModel } from './trace_model.js';

/** A source of a node: another node of the graph, or an input tensor. */
export type DagSource =
  | { readonly kind: 'node'; readonly index: number }
  | { readonly kind: 'input'; readonly index: number };

export interface DagInput {
  readonly tensorId: string;
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  readonly ne: readonly number[];
  /** A model weight (name ends in ".weight" / ".bias"), not an activation input or KV cache. */
  readonly weight: boolean;
}

export interface DagThreadTime {
  readonly tid: number;
  readonly computeNs: number;
  readonly barrierNs: number;
}

export interface DagNode {
  readonly index: number;
  readonly tensorId: string;
  /** GGML op name; for UNARY / GLU the function ("SILU", "SWIGLU"). */
  readonly op: string;
  readonly opCode: number;
  readonly type: number;
  readonly typeName: string;
  readonly ne: readonly number[];
  readonly name: string;
  readonly layer: number;
  readonly block: Block;
  /** No compute: a view of `viewOf`'s data. */
  readonly view: boolean;
  readonly sources: readonly DagSource[];
  /**
   * Computing nodes (views resolved) and inputs whose data it reads, plus the
   * last earlier node that wrote in place into such an input.
   */
  readonly producers: readonly DagSource[];
  /** Input index this computing node writes into in place (its result views it: SET_ROWS into the KV cache). */
  readonly writesInput: number | undefined;
  /** Node index of the fused kernel's first node when this one was computed by it. */
  readonly fusedInto: number | undefined;
  /** Nodes fused into this one. */
  readonly fusedCount: number;
  /** Graph computes in which it ran (its own row, not fused). */
  readonly executions: number;
  /** Sums over executions: first start to last compute end across threads. */
  readonly wallNs: number;
  /** Sums over executions and threads. */
  readonly computeNs: number;
  readonly barrierNs: number;
  readonly threads: readonly DagThreadTime[];
  /** Counter deltas summed over executions and threads, by counter name (rows without a value skipped). */
  readonly counters: Readonly<Record<string, number>>;
}

export interface CriticalPath {
  /** Node indices, first to last. */
  readonly nodes: readonly number[];
  /** Sum of the mean wall time per execution of its nodes. */
  readonly ns: number;
}

export interface Dag {
  readonly structureId: string;
  readonly pid: number;
  /** Graph computes that used this structure, and of those with node rows. */
  readonly graphs: number;
  readonly graphsWithNodes: number;
  /** Mean graph compute duration (GraphEvent), ns. */
  readonly meanGraphNs: number;
  readonly nodes: readonly DagNode[];
  readonly inputs: readonly DagInput[];
  /** Layers seen in node names, ascending. */
  readonly layers: readonly number[];
  readonly criticalPath: CriticalPath;
}

function counterName(model: TraceModel, id: number): string {
  return model.counters.find((c) => c.counterId === id)?.name || `counter${id}`;
}

/** The engine's op name for a node, with the function for UNARY / GLU. */
export function opName(engine: v1.IEngineInfo | undefined, op: number, subOp: number): string {
  const name = engine?.opNames?.[op] ?? `op${op}`;
  if (name === 'UNARY') return engine?.unaryOpNames?.[subOp] ?? name;
  if (name === 'GLU') return engine?.gluOpNames?.[subOp] ?? name;
  return name;
}

interface NodeAcc {
  executions: number;
  wall: number;
  compute: number;
  barrier: number;
  fused: number;
}

interface StructureAcc {
  readonly nodes: (NodeAcc | undefined)[];
  /** [node * threads + thread row]: compute and barrier per thread. */
  threadCompute: Float64Array;
  threadBarrier: Float64Array;
  /** counter_id -> per node index sums. */
  readonly counters: Map<number, Float64Array>;
}

/** The DAG of every distinct graph, in order of structure id. */
export function buildDags(model: TraceModel): Dag[] {
  // Timing per structure and node index.
  const acc = new Map<string, StructureAcc>();
  const graphsOf = new Map<string, { graphs: number; withNodes: number; duration: number }>();
  for (const g of model.graphs) {
    if (!g.seen) continue;
    const c = graphsOf.get(g.structureId) ?? { graphs: 0, withNodes: 0, duration: 0 };
    c.graphs++;
    c.duration += g.duration;
    graphsOf.set(g.structureId, c);
  }
  const { nodes } = model;
  const nThreads = model.threads.length;
  forEachGraphExecution(model, (e) => {
    const sid = model.graphs[e.graph]?.structureId ?? '0';
    const s = model.structures.get(sid);
    if (s === undefined) return;
    const c = graphsOf.get(sid);
    if (c) c.withNodes++;
    let sa = acc.get(sid);
    if (sa === undefined) {
      const n = Math.max(s.nodes?.length ?? 0, 1);
      sa = {
        nodes: [],
        threadCompute: new Float64Array(n * nThreads),
        threadBarrier: new Float64Array(n * nThreads),
        counters: new Map([...model.counterColumns.keys()].map((id) => [id, new Float64Array(n)])),
      };
      acc.set(sid, sa);
    }
    const list = sa.nodes;
    for (const i of e.nodes) {
      let a = list[i];
      if (a === undefined) list[i] = a = { executions: 0, wall: 0, compute: 0, barrier: 0, fused: 0 };
      a.executions++;
      a.wall += (e.last[i] as number) - (e.first[i] as number);
      a.compute += e.compute[i] as number;
      a.barrier += e.barrier[i] as number;
      a.fused = Math.max(a.fused, e.fused[i] as number);
    }
    const limit = sa.threadCompute.length;
    for (const r of e.rows) {
      const k = (nodes.node[r] as number) * nThreads + (nodes.thread[r] as number);
      if (k >= limit) continue; // a node index past the structure
      sa.threadCompute[k] = (sa.threadCompute[k] as number) + (nodes.compute[r] as number);
      sa.threadBarrier[k] = (sa.threadBarrier[k] as number) + (nodes.barrier[r] as number);
    }
    for (const [id, column] of model.counterColumns) {
      const sums = sa.counters.get(id) as Float64Array;
      for (const r of e.rows) {
        const v = column[r] as number;
        const i = nodes.node[r] as number;
        if (v === v && i < sums.length) sums[i] = (sums[i] as number) + v; // v === v: not NaN
      }
    }
  });

  const dags: Dag[] = [];
  const ids = [...model.structures.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  for (const sid of ids) {
    const s = model.structures.get(sid) as v1.IGraphStructure;
    const c = graphsOf.get(sid) ?? { graphs: 0, withNodes: 0, duration: 0 };
    dags.push(buildDag(model, s, acc.get(sid), c.graphs, c.withNodes, c.graphs ? c.duration / c.graphs : 0));
  }
  return dags;
}

function buildDag(
  model: TraceModel,
  s: v1.IGraphStructure,
  sa: StructureAcc | undefined,
  graphs: number,
  graphsWithNodes: number,
  meanGraphNs: number,
): Dag {
  const pid = s.pid ?? 0;
  const acc = sa?.nodes ?? [];
  const nThreads = model.threads.length;
  const engine = model.engines.get(pid) ?? [...model.engines.values()][0];
  const str = (iid: number | null | undefined) => model.strings.get(iid ?? 0) ?? '';
  const raw = s.nodes ?? [];
  const nodeById = new Map<string, number>();
  raw.forEach((n, i) => nodeById.set(longToBigInt(n.tensorId).toString(), i));
  const inputs: DagInput[] = [];
  const inputById = new Map<string, number>();
  for (const t of s.inputs ?? []) {
    const id = longToBigInt(t.tensorId).toString();
    const name = str(t.nameIid);
    inputById.set(id, inputs.length);
    inputs.push({
      tensorId: id,
      name,
      type: t.type ?? 0,
      typeName: typeName(t.type ?? 0, engine?.typeNames),
      ne: (t.ne ?? []).map((v) => Number(longToBigInt(v))),
      weight: /\.(weight|bias)$/.test(name) || /^(blk\.|token_embd|output)/.test(name),
    });
  }
  const sourceOf = (id: string): DagSource | undefined => {
    const n = nodeById.get(id);
    if (n !== undefined) return { kind: 'node', index: n };
    const i = inputById.get(id);
    return i === undefined ? undefined : { kind: 'input', index: i };
  };

  // Fused followers, from the first execution seen.
  const fusedInto: (number | undefined)[] = new Array(raw.length).fill(undefined);
  acc.forEach((a, i) => {
    if (a) for (let k = 1; k <= a.fused && i + k < raw.length; k++) fusedInto[i + k] = i;
  });

  const out: DagNode[] = [];
  const views: boolean[] = [];
  for (let i = 0; i < raw.length; i++) {
    const n = raw[i] as v1.IGraphNode;
    const op = opName(engine, n.op ?? 0, n.subOp ?? 0);
    views.push(VIEW_OPS.has(op));
    const sources: DagSource[] = [];
    for (const src of n.srcTensorIds ?? []) {
      const id = longToBigInt(src).toString();
      if (id === '0') continue;
      const from = sourceOf(id);
      if (from) sources.push(from);
    }
    const a = acc[i];
    const threads: DagThreadTime[] = [];
    if (a && sa) {
      for (let t = 0; t < nThreads; t++) {
        const computeNs = sa.threadCompute[i * nThreads + t] as number;
        const barrierNs = sa.threadBarrier[i * nThreads + t] as number;
        if (computeNs > 0 || barrierNs > 0) threads.push({ tid: model.threads[t]?.tid ?? 0, computeNs, barrierNs });
      }
      threads.sort((x, y) => x.tid - y.tid);
    }
    const counters: Record<string, number> = {};
    if (a && sa) for (const [id, sums] of sa.counters) counters[counterName(model, id)] = sums[i] as number;
    const cls = classifyTensor(str(n.nameIid));
    out.push({
      index: i,
      tensorId: longToBigInt(n.tensorId).toString(),
      op,
      opCode: n.op ?? 0,
      type: n.type ?? 0,
      typeName: typeName(n.type ?? 0, engine?.typeNames),
      ne: (n.ne ?? []).map((v) => Number(longToBigInt(v))),
      name: str(n.nameIid),
      layer: cls.layer,
      block: cls.block,
      view: VIEW_OPS.has(op),
      sources,
      producers: [],
      writesInput: VIEW_OPS.has(op) ? undefined : inputById.get(longToBigInt(n.viewSrcId).toString()),
      fusedInto: fusedInto[i],
      fusedCount: a?.fused ?? 0,
      executions: a?.executions ?? 0,
      wallNs: a?.wall ?? 0,
      computeNs: a?.compute ?? 0,
      barrierNs: a?.barrier ?? 0,
      threads,
      counters,
    });
  }

  // Views resolved: a source that is a view node stands for what it views.
  const resolve = (src: DagSource, depth = 0): DagSource[] => {
    if (src.kind === 'input' || !views[src.index] || depth > raw.length) return [src];
    return (out[src.index] as DagNode).sources.flatMap((s2) => resolve(s2, depth + 1));
  };
  // Unnamed nodes ("node_21": flash attention) inherit layer and block from their sources.
  const named = raw.map((n) => classifyTensor(str(n.nameIid)).known);
  const lastWriter = new Map<number, number>(); // input index -> last node writing into it
  for (let i = 0; i < out.length; i++) {
    const node = out[i] as DagNode & { producers: DagSource[]; layer: number; block: Block };
    const seen = new Set<string>();
    const resolved = node.sources.flatMap((s2) => resolve(s2));
    // Reading an input an earlier node wrote in place (SET_ROWS into the KV
    // cache) depends on that write too: GGML orders it only by node order.
    for (const p of [...resolved]) {
      const w = p.kind === 'input' ? lastWriter.get(p.index) : undefined;
      if (w !== undefined && w !== i) resolved.push({ kind: 'node', index: w });
    }
    node.producers = resolved.filter((p) => {
      const key = `${p.kind}${p.index}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (node.writesInput !== undefined) lastWriter.set(node.writesInput, i);
    if (!named[i]) {
      // Layer: the nearest named computing node before it (llama.cpp builds a
      // layer's nodes together; "node_118" = get_rows(l_out-2, inp_out_ids)
      // is built in layer 3). Block: its first named source node, else that node's.
      let before: DagNode | undefined;
      for (let k = i - 1; k >= 0 && before === undefined; k--) if (named[k] && !views[k]) before = out[k];
      const src = node.sources.find((p) => p.kind === 'node' && named[p.index]);
      const from = src ? (out[src.index] as DagNode) : before;
      if (from) {
        node.layer = before && before.layer >= 0 ? before.layer : from.layer;
        node.block = from.block;
        named[i] = true;
      }
    }
  }

  const layers = [...new Set(out.map((n) => n.layer).filter((l) => l >= 0))].sort((a, b) => a - b);
  return {
    structureId: longToBigInt(s.structureId).toString(),
    pid,
    graphs,
    graphsWithNodes,
    meanGraphNs: meanGraphNs,
    nodes: out,
    inputs,
    layers,
    criticalPath: criticalPath(out),
  };
}

/**
 * Longest path through the producer edges, weighting each node by its mean
 * wall time per execution. GGML orders nodes topologically, so one pass in
 * index order suffices. It is the lower bound of a graph compute with
 * unlimited parallelism across nodes (GGML's CPU backend runs nodes one
 * after the other, so compare it with the sum of node times).
 */
export function criticalPath(nodes: readonly DagNode[]): CriticalPath {
  const dist = new Float64Array(nodes.length);
  const prev = new Int32Array(nodes.length).fill(-1);
  let best = -1;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as DagNode;
    const w = n.executions > 0 ? n.wallNs / n.executions : 0;
    let from = 0;
    for (const p of n.producers) {
      if (p.kind !== 'node' || p.index >= i) continue;
      const d = dist[p.index] as number;
      if (d > from) {
        from = d;
        prev[i] = p.index;
      }
    }
    dist[i] = from + w;
    if (best < 0 || (dist[i] as number) > (dist[best] as number)) best = i;
  }
  const path: number[] = [];
  for (let i = best; i >= 0; i = prev[i] as number) path.push(i);
  path.reverse();
  return { nodes: path, ns: best >= 0 ? (dist[best] as number) : 0 };
}

/** A plain object for JSON output. */
export function dagToJson(dag: Dag): Record<string, unknown> {
  return {
    structure_id: dag.structureId,
    pid: dag.pid,
    graphs: dag.graphs,
    graphs_with_nodes: dag.graphsWithNodes,
    mean_graph_ns: dag.meanGraphNs,
    layers: dag.layers,
    critical_path: { nodes: dag.criticalPath.nodes, ns: dag.criticalPath.ns },
    inputs: dag.inputs.map((t) => ({ id: t.tensorId, name: t.name, type: t.typeName, ne: t.ne, weight: t.weight })),
    nodes: dag.nodes.map((n) => ({
      index: n.index,
      id: n.tensorId,
      op: n.op,
      type: n.typeName,
      ne: n.ne,
      name: n.name,
      layer: n.layer,
      block: n.block,
      view: n.view,
      sources: n.sources.map((s) => (s.kind === 'node' ? { node: s.index } : { input: s.index })),
      producers: n.producers.map((s) => (s.kind === 'node' ? { node: s.index } : { input: s.index })),
      writes_input: n.writesInput,
      fused_into: n.fusedInto,
      executions: n.executions,
      wall_ns: n.wallNs,
      compute_ns: n.computeNs,
      barrier_ns: n.barrierNs,
      threads: n.threads.map((t) => ({ tid: t.tid, compute_ns: t.computeNs, barrier_ns: t.barrierNs })),
      counters: n.counters,
    })),
  };
}

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const us = (ns: number) => (ns / 1e3).toFixed(ns < 1e4 ? 2 : 0);

/**
 * Graphviz DOT: computing nodes as boxes clustered by layer (views folded
 * away: edges follow `producers`), weights as ellipses, the critical path in
 * red. Fill darkens with mean wall time.
 */
export function dagToDot(dag: Dag, options: { weights?: boolean } = {}): string {
  const showWeights = options.weights ?? false;
  const onPath = new Set(dag.criticalPath.nodes);
  const pathEdges = new Set(dag.criticalPath.nodes.slice(1).map((n, k) => `${dag.criticalPath.nodes[k]}>${n}`));
  const maxMean = Math.max(1, ...dag.nodes.map((n) => (n.executions ? n.wallNs / n.executions : 0)));
  const lines = [
    `digraph "graph_${dag.structureId}" {`,
    '  rankdir=TB; node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
  ];
  const nodeLine = (n: DagNode) => {
    const mean = n.executions ? n.wallNs / n.executions : 0;
    const heat = Math.round(255 - 155 * (mean / maxMean));
    const fill = `#ff${heat.toString(16).padStart(2, '0')}${heat.toString(16).padStart(2, '0')}`;
    const label = `${n.op}${n.fusedCount ? ` (+${n.fusedCount} fused)` : ''}\\n${esc(n.name)}\\n${n.ne.join('x')} ${n.typeName}\\n${n.fusedInto !== undefined ? `fused into ${n.fusedInto}` : `${us(mean)} us`}`;
    const border = onPath.has(n.index) ? ', color=red, penwidth=2' : '';
    return `    n${n.index} [label="${label}", fillcolor="${fill}"${border}];`;
  };
  const byLayer = new Map<number, DagNode[]>();
  for (const n of dag.nodes) {
    if (n.view) continue;
    const list = byLayer.get(n.layer) ?? [];
    list.push(n);
    byLayer.set(n.layer, list);
  }
  for (const [layer, list] of [...byLayer].sort((a, b) => a[0] - b[0])) {
    if (layer < 0) {
      for (const n of list) lines.push(nodeLine(n).slice(2));
      continue;
    }
    lines.push(`  subgraph cluster_layer_${layer} {`, `    label="layer ${layer}"; style=dashed;`);
    for (const n of list) lines.push(nodeLine(n));
    lines.push('  }');
  }
  const usedInputs = new Set<number>();
  for (const n of dag.nodes) {
    if (n.view) continue;
    for (const p of n.producers) {
      if (p.kind === 'node') {
        const red = pathEdges.has(`${p.index}>${n.index}`) ? ' [color=red, penwidth=2]' : '';
        lines.push(`  n${p.index} -> n${n.index}${red};`);
      } else if (showWeights || !(dag.inputs[p.index] as DagInput).weight) {
        usedInputs.add(p.index);
        lines.push(`  i${p.index} -> n${n.index} [style=dotted];`);
      }
    }
  }
  for (const i of [...usedInputs].sort((a, b) => a - b)) {
    const t = dag.inputs[i] as DagInput;
    lines.push(`  i${i} [shape=ellipse, style=solid, label="${esc(t.name)}\\n${t.ne.join('x')} ${t.typeName}"];`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
