// What a user checks first in a trace: tokens, graphs, node events, threads,
// loss, time per op, TTFT / TPOT / tokens per second. Pure: packets in,
// a plain object out (commands/summary prints it).
import { longToBigInt, type v1 } from '../proto.js';
import { ExpertAccumulator, expertReportToJson } from '../analysis/experts.js';

export interface TokenSummary {
  readonly seq: number;
  readonly pid: number;
  readonly tid: number;
  readonly context_id: string;
  readonly n_tokens: number;
  readonly start_ns: number;
  readonly duration_ns: number;
  readonly result: number;
}

export interface OpSummary {
  /** Node executions (per graph, not per thread). */
  readonly count: number;
  /** Sum over executions of first start to last compute end across threads. */
  readonly total_ns: number;
  /** Sums over all threads. */
  readonly compute_ns: number;
  readonly barrier_ns: number;
}

export interface TraceSummary {
  readonly session_id: string;
  readonly collector_version: string;
  readonly level: string;
  readonly layout_profile: string;
  readonly tokens: readonly TokenSummary[];
  readonly graphs: number;
  /** Distinct graph nodes executed, summed over graphs (a fused group counts once). */
  readonly nodes: number;
  /** Nodes covered by fused groups beyond their first node. */
  readonly fused_nodes: number;
  /** Sum of cgraph->n_nodes over graphs (no-op and view nodes included). */
  readonly graph_nodes: number;
  readonly node_events: number;
  readonly threads: number;
  /** Events the collector could not write (counter values are not events: see below). */
  readonly lost_events: number;
  readonly lost_by_kind: Readonly<Record<string, number>>;
  /** Per-node counter values measured, and not measured (preempted, moved CPU, first of a thread). */
  readonly counter_values_measured: number;
  readonly counter_values_unmeasured: number;
  readonly ops: Readonly<Record<string, OpSummary>>;
  readonly prefill_tokens: number;
  readonly decode_tokens: number;
  readonly ttft_ms: number | undefined;
  readonly tpot_ms: number | undefined;
  readonly tokens_per_s: number | undefined;
  readonly end_reason: string | undefined;
  readonly truncated: boolean;
  /** MoE routing (record --moe), as analyze --json's "experts" without the per-token table; absent without it. */
  readonly experts: Readonly<Record<string, unknown>> | undefined;
}

interface NodeInfo {
  readonly op: number;
  readonly subOp: number;
}

interface Execution {
  start: bigint;
  end: bigint;
  compute: bigint;
  barrier: bigint;
  fused: number;
}

const n = (v: Parameters<typeof longToBigInt>[0]): number => Number(longToBigInt(v));

/** GGML op name, with the unary / GLU function where the op is UNARY or GLU. */
function opName(engine: v1.IEngineInfo | undefined, node: NodeInfo | undefined, fused: number): string {
  if (node === undefined) return 'unknown';
  const ops = engine?.opNames ?? [];
  let name = ops[node.op] ?? `op${node.op}`;
  if (name === 'UNARY') name = engine?.unaryOpNames?.[node.subOp] ?? name;
  else if (name === 'GLU') name = engine?.gluOpNames?.[node.subOp] ?? name;
  return fused > 0 ? `${name}+fused${fused}` : name;
}

export class SummaryBuilder {
  private session: v1.ISessionInfo | undefined;
  private readonly engines = new Map<number, v1.IEngineInfo>();
  private readonly structures = new Map<string, { pid: number; nodes: NodeInfo[] }>();
  private readonly tokens: TokenSummary[] = [];
  private readonly threads = new Set<number>();
  private readonly ops = new Map<string, { count: number; total: bigint; compute: bigint; barrier: bigint }>();
  private readonly pending = new Map<string, Map<number, Execution>>(); // graph id -> node -> execution
  private graphs = 0;
  private graphNodes = 0;
  private nodes = 0;
  private fusedNodes = 0;
  private nodeEvents = 0;
  private end: v1.ISessionEnd | undefined;
  private loss: v1.ILossStats | undefined;
  private readonly experts = new ExpertAccumulator();
  private routings = 0;
  truncated = false;

  add(p: v1.ITracePacket): void {
    if (p.session) this.session = p.session;
    else if (p.engine) this.engines.set(p.engine.pid ?? 0, p.engine);
    else if (p.graphStructure) this.addStructure(p.graphStructure);
    else if (p.token) this.addToken(p.token);
    else if (p.expertRouting) {
      this.experts.add(p.expertRouting);
      this.routings++;
    }
    else if (p.nodeEvents) this.addNodes(p.nodeEvents);
    else if (p.graph) this.addGraph(p.graph);
    else if (p.loss) this.loss = p.loss;
    else if (p.sessionEnd) this.end = p.sessionEnd;
  }

  private addStructure(s: v1.IGraphStructure): void {
    const nodes = (s.nodes ?? []).map((g) => ({
      op: g.op ?? 0,
      subOp: g.subOp ?? 0, // the collector sets it for UNARY and GLU nodes
    }));
    this.structures.set(longToBigInt(s.structureId).toString(), { pid: s.pid ?? 0, nodes });
  }

  private addToken(t: v1.ITokenEvent): void {
    this.tokens.push({
      seq: n(t.seq),
      pid: t.pid ?? 0,
      tid: t.tid ?? 0,
      context_id: '0x' + longToBigInt(t.contextId).toString(16),
      n_tokens: t.nTokens ?? 0,
      start_ns: n(t.startNs),
      duration_ns: n(t.durationNs),
      result: t.result ?? 0,
    });
  }

  private addNodes(b: v1.INodeEventBatch): void {
    const key = longToBigInt(b.graphId).toString();
    let execs = this.pending.get(key);
    if (execs === undefined) this.pending.set(key, (execs = new Map()));
    this.threads.add(b.tid ?? 0);
    const deltas = b.nodeIndexDelta ?? [];
    const compute = b.computeNs ?? [];
    const barrier = b.barrierNs ?? [];
    const fused = b.fused ?? [];
    let index = 0;
    let t = longToBigInt(b.startNs);
    for (let i = 0; i < deltas.length; i++) {
      index = (index + (deltas[i] ?? 0)) >>> 0;
      const c = longToBigInt(compute[i]);
      const w = longToBigInt(barrier[i]);
      const e = execs.get(index);
      if (e === undefined) {
        execs.set(index, { start: t, end: t + c, compute: c, barrier: w, fused: fused[i] ?? 0 });
      } else {
        if (t < e.start) e.start = t;
        if (t + c > e.end) e.end = t + c;
        e.compute += c;
        e.barrier += w;
      }
      t += c + w;
      this.nodeEvents++;
    }
  }

  private addGraph(g: v1.IGraphEvent): void {
    this.graphs++;
    this.graphNodes += g.nNodes ?? 0;
    const key = longToBigInt(g.graphId).toString();
    const execs = this.pending.get(key);
    this.pending.delete(key);
    if (execs === undefined) return;
    const structure = this.structures.get(longToBigInt(g.structureId).toString());
    const engine = this.engines.get(g.pid ?? 0);
    for (const [index, e] of execs) {
      const fused = e.fused;
      this.nodes++;
      this.fusedNodes += fused;
      const name = opName(engine, structure?.nodes[index], fused);
      const op = this.ops.get(name) ?? { count: 0, total: 0n, compute: 0n, barrier: 0n };
      op.count++;
      op.total += e.end - e.start;
      op.compute += e.compute;
      op.barrier += e.barrier;
      this.ops.set(name, op);
    }
  }

  build(): TraceSummary {
    const lossSource = this.end?.totals ?? this.loss;
    const lostByKind: Record<string, number> = {};
    let lost = 0;
    let unmeasured = 0;
    for (const l of lossSource?.lost ?? []) {
      const count = n(l.count);
      if (l.kind === COUNTER_KIND) {
        unmeasured = count; // not events: values the collector could not measure
        continue;
      }
      lostByKind[kindName(l.kind ?? 0)] = count;
      lost += count;
    }
    const measured = n(lossSource?.recorded?.find((r) => r.kind === COUNTER_KIND)?.count ?? 0);
    const tokens = [...this.tokens].sort((a, b) => a.seq - b.seq);
    const timing = tokenTiming(tokens);
    const ops: Record<string, OpSummary> = {};
    for (const [name, o] of [...this.ops].sort((a, b) => Number(b[1].total - a[1].total))) {
      ops[name] = { count: o.count, total_ns: Number(o.total), compute_ns: Number(o.compute), barrier_ns: Number(o.barrier) };
    }
    const level = this.session?.config?.level ?? 0;
    return {
      session_id: this.session?.sessionId ?? '',
      collector_version: this.session?.collectorVersion ?? '',
      level: ['unspecified', 'off', 'token', 'graph', 'node'][level] ?? String(level),
      layout_profile: this.session?.layout?.name ?? '',
      tokens,
      graphs: this.graphs,
      nodes: this.nodes,
      fused_nodes: this.fusedNodes,
      graph_nodes: this.graphNodes,
      node_events: this.nodeEvents,
      threads: this.threads.size,
      lost_events: lost,
      lost_by_kind: lostByKind,
      counter_values_measured: measured,
      counter_values_unmeasured: unmeasured,
      ops,
      ...timing,
      end_reason: this.end?.reason ?? undefined,
      truncated: this.truncated || this.end === undefined,
      experts: this.routings ? expertReportToJson(this.experts.build()) : undefined,
    };
  }
}

/** EventKind.EVENT_KIND_COUNTER: its LossStats counts are node counter values. */
const COUNTER_KIND = 6;

function kindName(kind: number): string {
  return ['unspecified', 'token', 'graph', 'node', 'structure', 'sched', 'counter', 'expert', 'output'][kind] ?? `kind${kind}`;
}

/** TTFT: the first context's leading prompt calls (n_tokens > 1), first start
 * to last end. TPOT: mean duration of its single-token calls. */
function tokenTiming(tokens: readonly TokenSummary[]) {
  const byContext = new Map<string, TokenSummary[]>();
  for (const t of tokens) {
    const list = byContext.get(t.context_id) ?? [];
    list.push(t);
    byContext.set(t.context_id, list);
  }
  const main = [...byContext.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  let prefillEnd = 0;
  while (prefillEnd < main.length && (main[prefillEnd]?.n_tokens ?? 0) > 1) prefillEnd++;
  const prefill = main.slice(0, prefillEnd);
  const decode = main.filter((t) => t.n_tokens === 1);
  const first = prefill[0];
  const last = prefill[prefill.length - 1];
  const ttft = first && last ? (last.start_ns + last.duration_ns - first.start_ns) / 1e6 : undefined;
  const decodeNs = decode.reduce((s, t) => s + t.duration_ns, 0);
  const tpot = decode.length ? decodeNs / decode.length / 1e6 : undefined;
  return {
    prefill_tokens: prefill.reduce((s, t) => s + t.n_tokens, 0),
    decode_tokens: decode.length,
    ttft_ms: ttft,
    tpot_ms: tpot,
    tokens_per_s: tpot ? 1000 / tpot : undefined,
  };
}
