// MoE expert routing (profinferd record --moe): which experts every token went
// to, per layer and step, from the ExpertRouting packets (one per MUL_MAT_ID
// node per graph); per layer how often each expert was chosen and how evenly
// (max/mean, coefficient of variation), and how many tokens pass before an
// expert is chosen again (reuse distance). Pure: packets in, plain objects out.
//
// A layer's MUL_MAT_ID nodes (gate, up, down) read the same ids, so one
// routing decision is counted per (process, graph, layer): the node with the
// lowest index; nodes of the layer whose ids differ are counted `inconsistent`.
import { longToBigInt, type v1 } from '../proto.js';
import type { TraceModel } from './trace_model.js';

export interface LayerExperts {
  /** From the node name (ffn_moe_gate-12 → 12); -1 where it had none. */
  readonly layer: number;
  /** Experts of the layer: the weights' ne[2] when the structure says, else the highest id seen + 1. */
  readonly nExpert: number;
  readonly nExpertFromWeights: boolean;
  /** Token rows routed through the layer, over all steps. */
  readonly tokens: number;
  /** Selections per expert (index = expert id). */
  readonly counts: readonly number[];
  /** Busiest expert's selections over the mean (1: perfectly even). */
  readonly maxOverMean: number;
  /** Population standard deviation of `counts` over their mean (0: perfectly even). */
  readonly cv: number;
  /** Experts never chosen. */
  readonly unused: number;
  /** Tokens between activations of the same expert in this layer. */
  readonly reuse: ReuseDistance;
}

/**
 * Reuse distance of experts in one layer: for each activation of an expert,
 * how many tokens routed through this layer (rows, per process, in graph id
 * and row order) since that expert's previous activation in the layer; 1
 * means the next token chose it again. What an expert cache (weights kept in
 * fast memory) would see. A prompt's last layer may route its output rows
 * only (llama.cpp skips the rest), so counts are of routed rows.
 */
export interface ReuseDistance {
  /** Activations with an earlier one of the same expert (each gives a distance). */
  readonly reuses: number;
  /** First activations of an expert (per process): no distance. */
  readonly cold: number;
  /** NaN when there is no reuse. */
  readonly mean: number;
  readonly median: number;
  readonly p90: number;
  /** Share of reuses at distance 1 (the expert chosen again by the next token). */
  readonly nextToken: number;
}

/** One token's experts in one layer at one step. */
export interface TokenRoute {
  readonly pid: number;
  readonly graphId: string;
  /** Row within the graph's batch (0-based). */
  readonly token: number;
  readonly layer: number;
  readonly experts: readonly number[];
}

export interface ExpertReport {
  /** ExpertRouting packets read. */
  readonly routings: number;
  /** (process, graph, layer) routing decisions counted. */
  readonly decisions: number;
  /** Nodes whose ids differ from their layer's first node in the same graph. */
  readonly inconsistent: number;
  /** Packets whose ids do not fill n_tokens rows of n_expert_used (skipped). */
  readonly malformed: number;
  /** Highest n_expert_used seen. */
  readonly nExpertUsed: number;
  readonly layers: readonly LayerExperts[];
  /** Per token, layer and step; empty unless asked for. */
  readonly table: readonly TokenRoute[];
}

interface Decision {
  readonly pid: number;
  readonly graphId: string;
  readonly layer: number;
  readonly nodeIndex: number;
  readonly nUsed: number;
  readonly nTokens: number;
  readonly ids: readonly number[];
}

const sameIds = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** Feeds ExpertRouting packets one at a time (trace order), then builds the report. */
export class ExpertAccumulator {
  #routings = 0;
  #inconsistent = 0;
  #malformed = 0;
  readonly #decisions = new Map<string, Decision>();

  add(r: v1.IExpertRouting): void {
    this.#routings++;
    const nUsed = r.nExpertUsed ?? 0;
    const nTokens = r.nTokens ?? 0;
    const ids = r.expertIds ?? [];
    if (nUsed <= 0 || nTokens <= 0 || ids.length !== nUsed * nTokens) {
      this.#malformed++;
      return;
    }
    const d: Decision = {
      pid: r.pid ?? 0,
      graphId: longToBigInt(r.graphId).toString(),
      layer: r.layer ?? -1,
      nodeIndex: r.nodeIndex ?? 0,
      nUsed,
      nTokens,
      ids,
    };
    const key = `${d.pid}:${d.graphId}:${d.layer}`;
    const had = this.#decisions.get(key);
    if (!had) {
      this.#decisions.set(key, d);
      return;
    }
    if (!sameIds(had.ids, d.ids) || had.nUsed !== d.nUsed) this.#inconsistent++;
    if (d.nodeIndex < had.nodeIndex) this.#decisions.set(key, d);
  }

  /**
   * nExpertOf: the layer's expert count when known (the weights' shape); table:
   * also list every token's experts (large for long prompts).
   */
  build(o: { nExpertOf?: (layer: number) => number | undefined; table?: boolean } = {}): ExpertReport {
    const byLayer = new Map<number, Decision[]>();
    for (const d of this.#decisions.values()) {
      const list = byLayer.get(d.layer) ?? [];
      list.push(d);
      byLayer.set(d.layer, list);
    }
    const layers: LayerExperts[] = [];
    for (const [layer, list] of [...byLayer].sort((a, b) => a[0] - b[0])) {
      const maxId = Math.max(...list.flatMap((d) => d.ids));
      const known = o.nExpertOf?.(layer);
      const fromWeights = known !== undefined && known > maxId;
      const nExpert = fromWeights ? known : maxId + 1;
      const counts = new Array<number>(Math.max(nExpert, 0)).fill(0);
      let tokens = 0;
      for (const d of list) {
        tokens += d.nTokens;
        for (const id of d.ids) if (id >= 0 && id < counts.length) counts[id] = (counts[id] ?? 0) + 1;
      }
      layers.push({ layer, nExpert, nExpertFromWeights: fromWeights, tokens, counts, ...balance(counts), reuse: reuseDistance(list) });
    }
    const table: TokenRoute[] = [];
    if (o.table) {
      const ordered = [...this.#decisions.values()].sort(
        (a, b) => a.pid - b.pid || Number(BigInt(a.graphId) - BigInt(b.graphId)) || a.layer - b.layer,
      );
      for (const d of ordered)
        for (let t = 0; t < d.nTokens; t++)
          table.push({ pid: d.pid, graphId: d.graphId, token: t, layer: d.layer, experts: d.ids.slice(t * d.nUsed, (t + 1) * d.nUsed) });
    }
    return {
      routings: this.#routings,
      decisions: this.#decisions.size,
      inconsistent: this.#inconsistent,
      malformed: this.#malformed,
      nExpertUsed: Math.max(0, ...[...this.#decisions.values()].map((d) => d.nUsed)),
      layers,
      table,
    };
  }
}

/** Reuse distances of one layer's decisions, tokens numbered per process in (graph id, row) order. */
function reuseDistance(list: readonly Decision[]): ReuseDistance {
  const ordered = [...list].sort((a, b) => a.pid - b.pid || compareIds(a.graphId, b.graphId));
  const distances: number[] = [];
  let cold = 0;
  let pid: number | undefined;
  let position = 0;
  const last = new Map<number, number>();
  for (const d of ordered) {
    if (d.pid !== pid) {
      pid = d.pid;
      position = 0;
      last.clear();
    }
    for (let t = 0; t < d.nTokens; t++, position++) {
      const seen = new Set<number>();
      for (const id of d.ids.slice(t * d.nUsed, (t + 1) * d.nUsed)) {
        if (seen.has(id)) continue; // an id twice in one row is one activation
        seen.add(id);
        const before = last.get(id);
        if (before === undefined) cold++;
        else distances.push(position - before);
        last.set(id, position);
      }
    }
  }
  distances.sort((a, b) => a - b);
  const n = distances.length;
  const at = (q: number): number => (n ? (distances[Math.min(n - 1, Math.floor(q * n))] as number) : NaN);
  return {
    reuses: n,
    cold,
    mean: n ? distances.reduce((a, b) => a + b, 0) / n : NaN,
    median: at(0.5),
    p90: at(0.9),
    nextToken: n ? distances.filter((x) => x === 1).length / n : NaN,
  };
}

const compareIds = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** max/mean and coefficient of variation of selection counts (NaN when nothing was chosen). */
export function balance(counts: readonly number[]): { maxOverMean: number; cv: number; unused: number } {
  const n = counts.length;
  const total = counts.reduce((a, b) => a + b, 0);
  const unused = counts.filter((c) => c === 0).length;
  if (!n || !total) return { maxOverMean: NaN, cv: NaN, unused };
  const mean = total / n;
  const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / n;
  return { maxOverMean: Math.max(...counts) / mean, cv: Math.sqrt(variance) / mean, unused };
}

/**
 * Experts per layer from the recorded structure: the MUL_MAT_ID node's src[0]
 * (expert weights, [n_embd, n_ff, n_expert]) has n_expert in ne[2].
 */
export function expertsPerLayer(model: TraceModel): Map<number, number> {
  const out = new Map<number, number>();
  const structureOf = new Map(model.graphs.map((g) => [`${g.pid}:${g.id}`, g.structureId]));
  for (const r of model.experts) {
    const layer = r.layer ?? -1;
    if (out.has(layer)) continue;
    const s = model.structures.get(structureOf.get(`${r.pid ?? 0}:${longToBigInt(r.graphId)}`) ?? '0');
    const node = s?.nodes?.[r.nodeIndex ?? -1];
    const weights = node?.srcTensorIds?.[0];
    if (weights === undefined || weights === null) continue;
    const w = longToBigInt(weights);
    const input = s?.inputs?.find((t) => longToBigInt(t.tensorId) === w);
    const ne2 = input?.ne?.[2];
    if (ne2 !== undefined && ne2 !== null && Number(ne2) > 0) out.set(layer, Number(ne2));
  }
  return out;
}

/** The report of a whole trace (analyze), with the expert counts the structure gives. */
export function expertReport(model: TraceModel, o: { table?: boolean } = {}): ExpertReport {
  const acc = new ExpertAccumulator();
  for (const r of model.experts) acc.add(r);
  const nExpert = expertsPerLayer(model);
  return acc.build({ nExpertOf: (layer) => nExpert.get(layer), table: o.table });
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The JSON form (analyze --json, summary --json): snake_case, no NaN. */
export function expertReportToJson(r: ExpertReport): Record<string, unknown> {
  return {
    routings: r.routings,
    decisions: r.decisions,
    inconsistent: r.inconsistent,
    malformed: r.malformed,
    n_expert_used: r.nExpertUsed,
    layers: r.layers.map((l) => ({
      layer: l.layer,
      n_expert: l.nExpert,
      n_expert_from_weights: l.nExpertFromWeights,
      tokens: l.tokens,
      counts: l.counts,
      max_over_mean: finite(l.maxOverMean),
      cv: finite(l.cv),
      unused: l.unused,
      reuse_distance: {
        reuses: l.reuse.reuses,
        cold: l.reuse.cold,
        mean: finite(l.reuse.mean),
        median: finite(l.reuse.median),
        p90: finite(l.reuse.p90),
        next_token: finite(l.reuse.nextToken),
      },
    })),
    ...(r.table.length ? { tokens: r.table.map((t) => ({ pid: t.pid, graph_id: t.graphId, token: t.token, layer: t.layer, experts: t.experts })) } : {}),
  };
}

/** The "experts" section of analyze's text output; empty when the trace has no routing. */
export function expertTables(r: ExpertReport, top: number): string[] {
  if (!r.routings) return [];
  const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '-');
  const out = [
    '',
    `  experts (MoE routing: ${r.routings} MUL_MAT_ID nodes, ${r.decisions} layer decisions, ${r.nExpertUsed} experts per token)`,
  ];
  if (r.inconsistent) out.push(`  ${r.inconsistent} nodes read other ids than their layer's first node in the same graph`);
  if (r.malformed) out.push(`  ${r.malformed} packets skipped: ids do not fill n_tokens x n_expert_used`);
  out.push(
    `  ${'layer'.padEnd(7)}${'tokens'.padStart(8)}${'experts'.padStart(9)}${'max/mean'.padStart(10)}${'cv'.padStart(7)}${'unused'.padStart(8)}` +
      `${'reuse'.padStart(8)}${'p90'.padStart(6)}${'next'.padStart(6)}  selections per expert`,
  );
  for (const l of r.layers) {
    out.push(
      `  ${String(l.layer).padEnd(7)}${String(l.tokens).padStart(8)}${String(l.nExpert).padStart(9)}${f(l.maxOverMean).padStart(10)}` +
        `${f(l.cv).padStart(7)}${String(l.unused).padStart(8)}${f(l.reuse.median).padStart(8)}${f(l.reuse.p90).padStart(6)}` +
        `${(Number.isFinite(l.reuse.nextToken) ? `${(100 * l.reuse.nextToken).toFixed(0)}%` : '-').padStart(6)}  ${l.counts.join(' ')}`,
    );
  }
  out.push('  (reuse: median tokens between activations of the same expert; p90; next: share reused by the next token)');
  if (r.table.length) {
    // The last steps: one line per (graph, token), the experts of each layer.
    const rows = new Map<string, Map<number, readonly number[]>>();
    for (const t of r.table) {
      const key = `${t.pid}:${t.graphId}:${t.token}`;
      const m = rows.get(key) ?? new Map<number, readonly number[]>();
      m.set(t.layer, t.experts);
      rows.set(key, m);
    }
    const layers = r.layers.map((l) => l.layer);
    out.push('', `  routing of the last ${Math.min(top, rows.size)} of ${rows.size} tokens (graph:token, experts per layer)`);
    out.push(`  ${'graph:token'.padEnd(14)}${layers.map((l) => `L${l}`.padEnd(10)).join('')}`);
    for (const [key, m] of [...rows].slice(-top)) {
      const [, graph, token] = key.split(':');
      out.push(`  ${`${graph}:${token}`.padEnd(14)}${layers.map((l) => (m.get(l)?.join(',') ?? '-').padEnd(10)).join('')}`);
    }
  }
  return out;
}
