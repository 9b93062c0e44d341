// executions.ts: node rows (one per thread) folded into node executions (one
// per graph node per graph compute): first start to last compute end across
// threads, compute and barrier summed over threads. dag.ts and stats.ts both
// walk these, one graph compute at a time, in linear time.
import type { TraceModel } from './trace_model.js';

/**
 * One graph compute's node executions. Columns are indexed by node index and
 * valid only for the indices in `nodes`; the arrays are reused for the next
 * graph (copy what you keep).
 */
export interface GraphExecution {
  /** Row of model.graphs. */
  readonly graph: number;
  /** Node indices executed, ascending (fused followers not included). */
  readonly nodes: readonly number[];
  /** First start and last compute end across threads (relative ns). */
  readonly first: Float64Array;
  readonly last: Float64Array;
  /** Sums over threads. */
  readonly compute: Float64Array;
  readonly barrier: Float64Array;
  /** Fused followers (max over threads). */
  readonly fused: Uint16Array;
  /** Rows of model.nodes of this graph compute, in row order. */
  readonly rows: Uint32Array;
}

/** Rows of each graph (a counting sort by graph row): rows of graph g are order[offsets[g]..offsets[g+1]). */
export function rowsByGraph(model: TraceModel): { readonly order: Uint32Array; readonly offsets: Uint32Array } {
  const { nodes, graphs } = model;
  const offsets = new Uint32Array(graphs.length + 1);
  const graphCol = nodes.graph;
  for (let i = 0; i < nodes.length; i++) {
    const at = (graphCol[i] as number) + 1;
    offsets[at] = (offsets[at] as number) + 1;
  }
  for (let g = 0; g < graphs.length; g++) offsets[g + 1] = (offsets[g + 1] as number) + (offsets[g] as number);
  const fill = offsets.slice(0, graphs.length);
  const order = new Uint32Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const g = graphCol[i] as number;
    order[fill[g] as number] = i;
    fill[g] = (fill[g] as number) + 1;
  }
  return { order, offsets };
}

/** Calls `visit` once per graph compute that has node rows, in graph order. */
export function forEachGraphExecution(model: TraceModel, visit: (e: GraphExecution) => void): void {
  const { nodes } = model;
  const { order, offsets } = rowsByGraph(model);
  let cap = 1024;
  let first = new Float64Array(cap);
  let last = new Float64Array(cap);
  let compute = new Float64Array(cap);
  let barrier = new Float64Array(cap);
  let fused = new Uint16Array(cap);
  let seen = new Uint8Array(cap);
  for (let g = 0; g < model.graphs.length; g++) {
    const lo = offsets[g] as number;
    const hi = offsets[g + 1] as number;
    if (lo === hi) continue;
    let maxNode = 0;
    for (let k = lo; k < hi; k++) maxNode = Math.max(maxNode, nodes.node[order[k] as number] as number);
    if (maxNode >= cap) {
      cap = maxNode + 1;
      first = new Float64Array(cap);
      last = new Float64Array(cap);
      compute = new Float64Array(cap);
      barrier = new Float64Array(cap);
      fused = new Uint16Array(cap);
      seen = new Uint8Array(cap);
    }
    const list: number[] = [];
    for (let k = lo; k < hi; k++) {
      const r = order[k] as number;
      const i = nodes.node[r] as number;
      const s = nodes.start[r] as number;
      const c = nodes.compute[r] as number;
      if (seen[i] === 0) {
        seen[i] = 1;
        list.push(i);
        first[i] = s;
        last[i] = s + c;
        compute[i] = c;
        barrier[i] = nodes.barrier[r] as number;
        fused[i] = nodes.fused[r] as number;
      } else {
        if (s < (first[i] as number)) first[i] = s;
        if (s + c > (last[i] as number)) last[i] = s + c;
        compute[i] = (compute[i] as number) + c;
        barrier[i] = (barrier[i] as number) + (nodes.barrier[r] as number);
        if ((nodes.fused[r] as number) > (fused[i] as number)) fused[i] = nodes.fused[r] as number;
      }
    }
    list.sort((a, b) => a - b);
    visit({ graph: g, nodes: list, first, last, compute, barrier, fused, rows: order.subarray(lo, hi) });
    for (const i of list) seen[i] = 0;
  }
}
