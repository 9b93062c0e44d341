// stats.ts: ProfStat. Where the time of a trace goes: per token (prefill vs
// decode, TTFT, TPOT, tokens/s and how steady it is), per op type, per layer
// and block, per thread (compute vs barrier spin), and attention cost as the
// KV cache grows. Pure: model and DAGs in, a plain object out.
import type { Dag } from './dag.js';
import { forEachGraphExecution } from './executions.js';
import type { Block } from './tensor_names.js';
import type { TraceModel, TokenRow } from './trace_model.js';

export interface TokenStat {
  readonly seq: number;
  readonly contextId: string;
  readonly phase: 'prefill' | 'decode';
  readonly nTokens: number;
  /** Tokens in the context before this call (KV cache length at its start). */
  readonly past: number;
  readonly startNs: number;
  readonly durationNs: number;
  readonly graphs: number;
  /** Sums of node wall time of its graphs: all, and attention over the KV cache only (readsKvCache). */
  readonly nodeWallNs: number;
  readonly attentionNs: number;
}

export interface Distribution {
  readonly count: number;
  readonly mean: number;
  readonly stddev: number;
  /** stddev / mean. */
  readonly cv: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface TimeStat {
  /** Node executions (per graph compute, not per thread). */
  count: number;
  /** Sum of first start to last compute end across threads. */
  wallNs: number;
  /** Sums over threads. */
  computeNs: number;
  barrierNs: number;
}

export interface ThreadStat {
  readonly tid: number;
  readonly ith: number;
  readonly rows: number;
  readonly computeNs: number;
  readonly barrierNs: number;
  /** compute / (compute + barrier). */
  readonly busy: number;
}

/**
 * One llama_context's calls (TokenEvent.context_id). With speculative
 * decoding a draft context runs beside the target in the same process: the
 * draft proposes tokens one call at a time, the target checks them in one
 * multi-token call per round (the "verify" batches here).
 *
 * What n_tokens patterns tell: rounds, drafted tokens per round (draft calls
 * between two target batches) and the batch the target verified (drafted + 1
 * when the draft's proposals are all sent). What they do not: how many
 * drafted tokens the target accepted. That is a sampling result, and the
 * rejected tokens' KV-cache removal is not probed, so acceptance is left out
 * rather than guessed (`acceptance` stays undefined).
 */
export interface ContextStat {
  readonly contextId: string;
  readonly pid: number;
  /** single: the only context of its process; target / draft: see above; other: more contexts, no such pattern. */
  readonly role: 'single' | 'target' | 'draft' | 'other';
  readonly calls: number;
  readonly tokens: number;
  /** Leading multi-token calls (the prompt). */
  readonly promptCalls: number;
  /** Single-token calls. */
  readonly decodeCalls: number;
  /** Multi-token calls after another context's single-token calls (verification batches for a target). */
  readonly verifyCalls: number;
  readonly verifyTokens: Distribution | undefined;
  /** Draft only: its single-token calls between two verify calls of the target, per round. */
  readonly draftedPerRound: Distribution | undefined;
  /** Sum of call durations. */
  readonly busyNs: number;
  /** Calls whose llama_decode returned non-zero. */
  readonly failed: number;
  /** Accepted draft tokens per round: not derivable from the trace (see above). */
  readonly acceptance: undefined;
}

export interface TraceStats {
  readonly tokens: readonly TokenStat[];
  /** Per llama_context, in order of first call. */
  readonly contexts: readonly ContextStat[];
  readonly prefillTokens: number;
  readonly decodeTokens: number;
  readonly ttftMs: number | undefined;
  readonly tpotMs: number | undefined;
  readonly tokensPerS: number | undefined;
  /** Decode call durations (ms): how steady decoding is. */
  readonly decodeMs: Distribution | undefined;
  readonly graphs: number;
  readonly nodeRows: number;
  readonly nodeExecutions: number;
  /** Sum of node wall time over everything. */
  readonly totalWallNs: number;
  /** By op name; fused kernels as "RMS_NORM+MUL". */
  readonly ops: ReadonlyMap<string, TimeStat>;
  /** By phase, then op name. */
  readonly opsByPhase: ReadonlyMap<'prefill' | 'decode' | 'unknown', ReadonlyMap<string, TimeStat>>;
  /** By layer (-1: outside the layers). */
  readonly layers: ReadonlyMap<number, TimeStat>;
  readonly blocks: ReadonlyMap<Block, TimeStat>;
  /** "layer:block". */
  readonly layerBlocks: ReadonlyMap<string, TimeStat>;
  readonly threads: readonly ThreadStat[];
  /** Node rows of graphs without a recorded structure (op unknown). */
  readonly unstructuredRows: number;
  /** KV-cache attention time of the main context's decode calls against the cache length. */
  readonly attentionGrowth: AttentionGrowth | undefined;
}

/**
 * The attention nodes whose cost grows with the KV cache: attention-block
 * computing nodes that read no weight and are not the Q/K/V projections,
 * RoPE, the cache writes or the output-row selection (FLASH_ATTN_EXT; or kq, kq_soft_max, kqv without
 * flash attention).
 */
export function readsKvCache(dag: Dag, n: Dag['nodes'][number]): boolean {
  if (n.block !== 'attention' || n.view || ['ROPE', 'SET_ROWS', 'CPY', 'GET_ROWS'].includes(n.op)) return false;
  if (/^[QKV]cur/.test(n.name)) return false;
  return !n.producers.some((p) => p.kind === 'input' && dag.inputs[p.index]?.weight === true);
}

/** Least-squares line of attention ns per decode call over `past` (tokens already in the KV cache). */
export interface AttentionGrowth {
  readonly points: number;
  readonly firstPast: number;
  readonly lastPast: number;
  /** ns of attention per call at past = 0, and added per token of context. */
  readonly interceptNs: number;
  readonly slopeNsPerToken: number;
}

export function attentionGrowth(tokens: readonly TokenStat[]): AttentionGrowth | undefined {
  const pts = tokens.filter((t) => t.phase === 'decode' && t.graphs > 0);
  if (pts.length < 2) return undefined;
  const n = pts.length;
  const mx = pts.reduce((s, t) => s + t.past, 0) / n;
  const my = pts.reduce((s, t) => s + t.attentionNs, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const t of pts) {
    sxy += (t.past - mx) * (t.attentionNs - my);
    sxx += (t.past - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return {
    points: n,
    firstPast: (pts[0] as TokenStat).past,
    lastPast: (pts[n - 1] as TokenStat).past,
    interceptNs: my - slope * mx,
    slopeNsPerToken: slope,
  };
}

const newTime = (): TimeStat => ({ count: 0, wallNs: 0, computeNs: 0, barrierNs: 0 });

function add<K>(map: Map<K, TimeStat>, key: K, wall: number, compute: number, barrier: number): void {
  let t = map.get(key);
  if (t === undefined) map.set(key, (t = newTime()));
  t.count++;
  t.wallNs += wall;
  t.computeNs += compute;
  t.barrierNs += barrier;
}

export function distribution(values: readonly number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  const variance = sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / sorted.length;
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
  const stddev = Math.sqrt(variance);
  return {
    count: sorted.length,
    mean,
    stddev,
    cv: mean > 0 ? stddev / mean : 0,
    min: sorted[0] as number,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: sorted[sorted.length - 1] as number,
  };
}

/** Per-context statistics and the draft / target roles (ContextStat). */
export function contextStats(tokens: readonly TokenRow[]): ContextStat[] {
  const byContext = new Map<string, TokenRow[]>();
  for (const t of tokens) {
    const key = `${t.pid}:${t.contextId}`;
    const list = byContext.get(key);
    if (list === undefined) byContext.set(key, [t]);
    else list.push(t);
  }
  const perPid = new Map<number, number>();
  for (const list of byContext.values()) perPid.set(list[0]?.pid ?? 0, (perPid.get(list[0]?.pid ?? 0) ?? 0) + 1);
  // Single-token calls per process, by seq: another context's proposals.
  const singles = new Map<number, TokenRow[]>();
  for (const t of [...tokens].sort((a, b) => a.seq - b.seq)) {
    if (t.nTokens !== 1) continue;
    const list = singles.get(t.pid);
    if (list === undefined) singles.set(t.pid, [t]);
    else list.push(t);
  }
  const shapes = [...byContext.values()].map((list) => {
    const ordered = [...list].sort((a, b) => a.seq - b.seq);
    // A verify batch: a multi-token call with another context's single-token calls since this context's previous call.
    const others = singles.get(ordered[0]?.pid ?? 0) ?? [];
    const verify = ordered.filter(
      (t, i) => t.nTokens > 1 && i > 0 && others.some((o) => o.contextId !== t.contextId && o.seq < t.seq && o.seq > (ordered[i - 1] as TokenRow).seq),
    );
    let promptCalls = 0;
    while (promptCalls < ordered.length && (ordered[promptCalls] as TokenRow).nTokens > 1 && !verify.includes(ordered[promptCalls] as TokenRow))
      promptCalls++;
    return { ordered, promptCalls, verify };
  });
  // A target: a context with verify batches in a process of several contexts.
  const targetOf = new Map<number, (typeof shapes)[number]>();
  for (const sh of shapes) {
    const pid = sh.ordered[0]?.pid ?? 0;
    if ((perPid.get(pid) ?? 0) > 1 && sh.verify.length > 0) {
      const had = targetOf.get(pid);
      if (had === undefined || sh.verify.length > had.verify.length) targetOf.set(pid, sh);
    }
  }
  return shapes.map((sh) => {
    const first = sh.ordered[0] as TokenRow;
    const target = targetOf.get(first.pid);
    const role: ContextStat['role'] =
      (perPid.get(first.pid) ?? 0) === 1 ? 'single' : target === sh ? 'target' : target !== undefined ? 'draft' : 'other';
    let draftedPerRound: Distribution | undefined;
    if (role === 'draft' && target !== undefined) {
      // Rounds: the draft's single-token calls between consecutive verify calls of the target.
      const bounds = target.verify.map((t) => t.seq);
      const perRound = new Array<number>(bounds.length).fill(0);
      for (const t of sh.ordered) {
        if (t.nTokens !== 1) continue;
        const round = bounds.findIndex((b) => t.seq < b);
        if (round >= 0) perRound[round] = (perRound[round] as number) + 1;
      }
      draftedPerRound = distribution(perRound);
    }
    return {
      contextId: first.contextId,
      pid: first.pid,
      role,
      calls: sh.ordered.length,
      tokens: sh.ordered.reduce((a, t) => a + t.nTokens, 0),
      promptCalls: sh.promptCalls,
      decodeCalls: sh.ordered.filter((t) => t.nTokens === 1).length,
      verifyCalls: sh.verify.length,
      verifyTokens: distribution(sh.verify.map((t) => t.nTokens)),
      draftedPerRound,
      busyNs: sh.ordered.reduce((a, t) => a + t.duration, 0),
      failed: sh.ordered.filter((t) => t.result !== 0).length,
      acceptance: undefined,
    };
  });
}

/** analyze's text lines on contexts: only when a process ran more than one (draft and target). */
export function contextLines(contexts: readonly ContextStat[]): string[] {
  if (contexts.every((c) => c.role === 'single')) return [];
  const f = (d: Distribution | undefined): string => (d === undefined ? '-' : d.mean.toFixed(2));
  const out = [
    '',
    '  contexts (llama_context per process: a draft proposes single tokens, the target verifies them in one batch per round)',
    `  ${'context'.padEnd(18)}${'pid'.padStart(8)}${'role'.padStart(8)}${'calls'.padStart(7)}${'tokens'.padStart(8)}${'prompt'.padStart(8)}` +
      `${'decode'.padStart(8)}${'verify'.padStart(8)}${'batch'.padStart(7)}${'drafted'.padStart(9)}${'busy ms'.padStart(10)}`,
  ];
  for (const c of contexts) {
    out.push(
      `  ${c.contextId.padEnd(18)}${String(c.pid).padStart(8)}${c.role.padStart(8)}${String(c.calls).padStart(7)}${String(c.tokens).padStart(8)}` +
        `${String(c.promptCalls).padStart(8)}${String(c.decodeCalls).padStart(8)}${String(c.verifyCalls).padStart(8)}` +
        `${f(c.verifyTokens).padStart(7)}${f(c.draftedPerRound).padStart(9)}${(c.busyNs / 1e6).toFixed(2).padStart(10)}`,
    );
  }
  out.push('  (batch: mean tokens per verify call; drafted: mean draft calls per round; accepted tokens are not in the trace)');
  return out;
}

/** The context most calls went to (the target, when a draft model runs beside it). */
function mainContext(tokens: readonly TokenRow[]): string | undefined {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t.contextId, (counts.get(t.contextId) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

export function computeStats(model: TraceModel, dags: readonly Dag[]): TraceStats {
  const dagBy = new Map(dags.map((d) => [d.structureId, d]));
  // Per structure: op key per node (fused kernels joined).
  const opKeys = new Map<string, string[]>();
  for (const d of dags) {
    opKeys.set(
      d.structureId,
      d.nodes.map((n) =>
        n.fusedCount > 0
          ? d.nodes.slice(n.index, n.index + n.fusedCount + 1).map((f) => f.op).join('+')
          : n.op,
      ),
    );
  }

  // Tokens, and which token each graph belongs to (same pid, start inside the call).
  const tokens = model.tokens;
  const past = new Map<string, number>();
  const tokenStats = tokens.map((t) => {
    const before = past.get(t.contextId) ?? 0;
    past.set(t.contextId, before + t.nTokens);
    return {
      seq: t.seq,
      contextId: t.contextId,
      phase: (t.nTokens > 1 ? 'prefill' : 'decode') as TokenStat['phase'],
      nTokens: t.nTokens,
      past: before,
      startNs: t.start,
      durationNs: t.duration,
      graphs: 0,
      nodeWallNs: 0,
      attentionNs: 0,
    };
  });
  const byStart = tokens.map((_, i) => i).sort((a, b) => (tokens[a] as TokenRow).start - (tokens[b] as TokenRow).start);
  const graphToken = new Int32Array(model.graphs.length).fill(-1);
  {
    const graphOrder = model.graphs.map((_, i) => i).sort((a, b) => (model.graphs[a]?.start ?? 0) - (model.graphs[b]?.start ?? 0));
    let k = 0;
    for (const g of graphOrder) {
      const gr = model.graphs[g];
      if (!gr?.seen) continue;
      while (k < byStart.length && gr.start >= ((tokens[byStart[k] as number] as TokenRow).start + (tokens[byStart[k] as number] as TokenRow).duration)) k++;
      // Calls of other pids may overlap: look a few ahead for the one containing the graph.
      for (let j = k; j < Math.min(byStart.length, k + 8); j++) {
        const t = tokens[byStart[j] as number] as TokenRow;
        if (t.start <= gr.start && gr.start < t.start + t.duration && (t.pid === gr.pid || gr.pid === 0)) {
          graphToken[g] = byStart[j] as number;
          break;
        }
      }
    }
  }
  for (let g = 0; g < model.graphs.length; g++) {
    const ti = graphToken[g] as number;
    if (ti >= 0) (tokenStats[ti] as { graphs: number }).graphs++;
  }

  // Fold node executions into per (structure, phase, node) sums first (typed
  // arrays, no map look-ups per execution), then into the keyed tables.
  type Phase = 'prefill' | 'decode' | 'unknown';
  interface Sums {
    count: Float64Array;
    wall: Float64Array;
    compute: Float64Array;
    barrier: Float64Array;
  }
  const sums = new Map<string, Map<Phase, Sums>>();
  const attentionOf = new Map<string, Uint8Array>();
  for (const d of dags) attentionOf.set(d.structureId, Uint8Array.from(d.nodes, (n) => (readsKvCache(d, n) ? 1 : 0)));
  let executions = 0;
  let totalWall = 0;
  let unstructured = 0;
  const unknown = new Map<Phase, TimeStat>();
  forEachGraphExecution(model, (e) => {
    const sid = model.graphs[e.graph]?.structureId ?? '0';
    const dag = dagBy.get(sid);
    const ti = graphToken[e.graph] as number;
    const tok = ti >= 0 ? (tokenStats[ti] as { nodeWallNs: number; attentionNs: number; phase: Phase }) : undefined;
    const phase: Phase = tok?.phase ?? 'unknown';
    if (dag === undefined) {
      unstructured += e.rows.length;
      for (const i of e.nodes) {
        const wall = (e.last[i] as number) - (e.first[i] as number);
        executions++;
        totalWall += wall;
        add(unknown, phase, wall, e.compute[i] as number, e.barrier[i] as number);
        if (tok) tok.nodeWallNs += wall;
      }
      return;
    }
    let byPhase = sums.get(sid);
    if (byPhase === undefined) sums.set(sid, (byPhase = new Map()));
    let acc = byPhase.get(phase);
    if (acc === undefined) {
      const n = dag.nodes.length;
      acc = { count: new Float64Array(n), wall: new Float64Array(n), compute: new Float64Array(n), barrier: new Float64Array(n) };
      byPhase.set(phase, acc);
    }
    const att = attentionOf.get(sid) as Uint8Array;
    let wallSum = 0;
    let attSum = 0;
    for (const i of e.nodes) {
      if (i >= dag.nodes.length) continue; // a node index past the structure: ignore
      const wall = (e.last[i] as number) - (e.first[i] as number);
      acc.count[i] = (acc.count[i] as number) + 1;
      acc.wall[i] = (acc.wall[i] as number) + wall;
      acc.compute[i] = (acc.compute[i] as number) + (e.compute[i] as number);
      acc.barrier[i] = (acc.barrier[i] as number) + (e.barrier[i] as number);
      executions++;
      wallSum += wall;
      if (att[i]) attSum += wall;
    }
    totalWall += wallSum;
    if (tok) {
      tok.nodeWallNs += wallSum;
      tok.attentionNs += attSum;
    }
  });

  const ops = new Map<string, TimeStat>();
  const opsByPhase = new Map<Phase, Map<string, TimeStat>>();
  const layers = new Map<number, TimeStat>();
  const blocks = new Map<Block, TimeStat>();
  const layerBlocks = new Map<string, TimeStat>();
  const addN = <K>(map: Map<K, TimeStat>, key: K, count: number, wall: number, compute: number, barrier: number) => {
    let t = map.get(key);
    if (t === undefined) map.set(key, (t = newTime()));
    t.count += count;
    t.wallNs += wall;
    t.computeNs += compute;
    t.barrierNs += barrier;
  };
  for (const [sid, byPhase] of sums) {
    const dag = dagBy.get(sid) as Dag;
    const keys = opKeys.get(sid) as string[];
    for (const [phase, acc] of byPhase) {
      let phaseOps = opsByPhase.get(phase);
      if (phaseOps === undefined) opsByPhase.set(phase, (phaseOps = new Map()));
      for (let i = 0; i < dag.nodes.length; i++) {
        const count = acc.count[i] as number;
        if (count === 0) continue;
        const node = dag.nodes[i] as Dag['nodes'][number];
        const w = acc.wall[i] as number;
        const c = acc.compute[i] as number;
        const b = acc.barrier[i] as number;
        const key = keys[i] as string;
        addN(ops, key, count, w, c, b);
        addN(phaseOps, key, count, w, c, b);
        addN(layers, node.layer, count, w, c, b);
        addN(blocks, node.block, count, w, c, b);
        addN(layerBlocks, `${node.layer}:${node.block}`, count, w, c, b);
      }
    }
  }
  for (const [phase, t] of unknown) {
    let phaseOps = opsByPhase.get(phase);
    if (phaseOps === undefined) opsByPhase.set(phase, (phaseOps = new Map()));
    for (const map of [ops, phaseOps]) addN(map, 'unknown', t.count, t.wallNs, t.computeNs, t.barrierNs);
    addN(layers, -1, t.count, t.wallNs, t.computeNs, t.barrierNs);
    addN(blocks, 'other', t.count, t.wallNs, t.computeNs, t.barrierNs);
    addN(layerBlocks, '-1:other', t.count, t.wallNs, t.computeNs, t.barrierNs);
  }

  // Threads.
  const threadCompute = new Float64Array(model.threads.length);
  const threadBarrier = new Float64Array(model.threads.length);
  const threadRows = new Uint32Array(model.threads.length);
  const { nodes } = model;
  for (let r = 0; r < nodes.length; r++) {
    const th = nodes.thread[r] as number;
    threadCompute[th] = (threadCompute[th] as number) + (nodes.compute[r] as number);
    threadBarrier[th] = (threadBarrier[th] as number) + (nodes.barrier[r] as number);
    threadRows[th] = (threadRows[th] as number) + 1;
  }
  const threads = model.threads
    .map((t, i) => {
      const c = threadCompute[i] as number;
      const b = threadBarrier[i] as number;
      return { tid: t.tid, ith: t.ith, rows: threadRows[i] as number, computeNs: c, barrierNs: b, busy: c + b > 0 ? c / (c + b) : 0 };
    })
    .sort((a, b) => a.ith - b.ith || a.tid - b.tid);

  // Timing of the main context: TTFT over its leading prompt calls, TPOT over its single-token calls.
  const main = mainContext(tokens);
  const mainTokens = tokenStats.filter((t) => t.contextId === main);
  let prefillEnd = 0;
  while (prefillEnd < mainTokens.length && (mainTokens[prefillEnd] as TokenStat).phase === 'prefill') prefillEnd++;
  const prefill = mainTokens.slice(0, prefillEnd);
  const decode = mainTokens.filter((t) => t.phase === 'decode');
  const firstP = prefill[0];
  const lastP = prefill[prefill.length - 1];
  const ttft = firstP && lastP ? (lastP.startNs + lastP.durationNs - firstP.startNs) / 1e6 : undefined;
  const decodeMs = distribution(decode.map((t) => t.durationNs / 1e6));

  return {
    tokens: tokenStats,
    contexts: contextStats(tokens),
    prefillTokens: prefill.reduce((s, t) => s + t.nTokens, 0),
    decodeTokens: decode.length,
    ttftMs: ttft,
    tpotMs: decodeMs?.mean,
    tokensPerS: decodeMs && decodeMs.mean > 0 ? 1000 / decodeMs.mean : undefined,
    decodeMs,
    graphs: model.graphs.filter((g) => g.seen).length,
    nodeRows: nodes.length,
    nodeExecutions: executions,
    totalWallNs: totalWall,
    ops: sortByWall(ops),
    opsByPhase: new Map([...opsByPhase].map(([k, v]) => [k, sortByWall(v)])),
    layers: new Map([...layers].sort((a, b) => a[0] - b[0])),
    blocks: sortByWall(blocks),
    layerBlocks,
    threads,
    unstructuredRows: unstructured,
    attentionGrowth: attentionGrowth(decode),
  };
}

function sortByWall<K>(map: Map<K, TimeStat>): Map<K, TimeStat> {
  return new Map([...map].sort((a, b) => b[1].wallNs - a[1].wallNs));
}

/** A plain object for JSON output. */
export function statsToJson(s: TraceStats): Record<string, unknown> {
  const obj = <K>(m: ReadonlyMap<K, TimeStat>) =>
    Object.fromEntries([...m].map(([k, v]) => [String(k), { count: v.count, wall_ns: v.wallNs, compute_ns: v.computeNs, barrier_ns: v.barrierNs }]));
  return {
    prefill_tokens: s.prefillTokens,
    decode_tokens: s.decodeTokens,
    ttft_ms: s.ttftMs,
    tpot_ms: s.tpotMs,
    tokens_per_s: s.tokensPerS,
    decode_ms: s.decodeMs,
    graphs: s.graphs,
    node_rows: s.nodeRows,
    node_executions: s.nodeExecutions,
    total_wall_ns: s.totalWallNs,
    unstructured_rows: s.unstructuredRows,
    attention_growth: s.attentionGrowth && {
      points: s.attentionGrowth.points,
      first_past: s.attentionGrowth.firstPast,
      last_past: s.attentionGrowth.lastPast,
      intercept_ns: s.attentionGrowth.interceptNs,
      slope_ns_per_token: s.attentionGrowth.slopeNsPerToken,
    },
    contexts: s.contexts.map((c) => ({
      context_id: c.contextId,
      pid: c.pid,
      role: c.role,
      calls: c.calls,
      tokens: c.tokens,
      prompt_calls: c.promptCalls,
      decode_calls: c.decodeCalls,
      verify_calls: c.verifyCalls,
      verify_tokens: c.verifyTokens,
      drafted_per_round: c.draftedPerRound,
      busy_ns: c.busyNs,
      failed: c.failed,
      acceptance: null,
    })),
    tokens: s.tokens.map((t) => ({
      seq: t.seq,
      context_id: t.contextId,
      phase: t.phase,
      n_tokens: t.nTokens,
      past: t.past,
      start_ns: t.startNs,
      duration_ns: t.durationNs,
      graphs: t.graphs,
      node_wall_ns: t.nodeWallNs,
      attention_ns: t.attentionNs,
    })),
    ops: obj(s.ops),
    ops_by_phase: Object.fromEntries([...s.opsByPhase].map(([k, v]) => [k, obj(v)])),
    layers: obj(s.layers),
    blocks: obj(s.blocks),
    layer_blocks: obj(s.layerBlocks),
    threads: s.threads.map((t) => ({ tid: t.tid, ith: t.ith, rows: t.rows, compute_ns: t.computeNs, barrier_ns: t.barrierNs, busy: t.busy })),
  };
}
