// Checks shared by the collector end-to-end tests: what must hold of any trace
// recorded at node level from a real llama.cpp run, each against a truth the
// collector did not produce (the graph's own structure replayed through GGML's
// compute loop, the token/graph nesting of llama_decode, the loss counters).
import { expect } from 'vitest';
import { EventKind, type v1 } from '../../host/src/proto.js';
import {
  type DecodedTrace, type GgmlFacts, type GraphPlan, NODE_PROBES, batchRows, expectedNodeProbes, lossByKind, ns, planGraph,
} from '../support/collector.js';

/**
 * Slack for comparing node rows with their graph's span. The graph probes sit on
 * ggml_graph_compute's entry and return on the calling thread; node rows start at
 * the first dispatch call inside the compute loop and end at the last barrier's
 * end, so by construction they lie inside the graph. 5 µs covers the probe's own
 * cost where a timestamp is taken a few instructions away from the event it
 * stands for (a uprobe hit costs about 1-12 µs here, see DESIGN.md).
 */
export const PROBE_SLACK_NS = 5_000n;

export interface GraphCheck {
  readonly graphId: bigint;
  readonly nNodes: number;
  readonly plan: GraphPlan;
  readonly threads: number;
}

/**
 * For every graph, the rows of every thread are exactly the units
 * GGML's loop executes for the recorded structure; every node is accounted for
 * (rows + fused extras + skipped == n_nodes); every thread runs every unit,
 * in ascending node order; the rows fit inside the graph's span.
 */
export function expectNodeAccounting(t: DecodedTrace, facts: GgmlFacts): GraphCheck[] {
  const problems: string[] = [];
  const checks: GraphCheck[] = [];
  expect(t.graphs.length, 'no GraphEvent in the trace').toBeGreaterThan(0);
  for (const g of t.graphs) {
    const id = ns(g.graphId);
    const where = `graph ${id}`;
    const nNodes = g.nNodes ?? 0;
    const s = t.structures.get(ns(g.structureId));
    if (!s) {
      problems.push(`${where}: no GraphStructure ${ns(g.structureId)}`);
      continue;
    }
    if ((s.nodes ?? []).length !== nNodes) {
      problems.push(`${where}: GraphEvent.n_nodes ${nNodes} but its structure has ${(s.nodes ?? []).length} nodes`);
    }
    // Empty ops are named by the trace's own EngineInfo.op_names (expectOpNames checks them against ggml.h).
    const plan = planGraph(s, facts, t.engines.get(g.pid ?? 0)?.opNames ?? []);
    const fusedExtra = plan.units.reduce((a, u) => a + u.fused, 0);
    if (plan.units.length + fusedExtra + plan.skippedEmpty + plan.skippedNoCompute !== (s.nodes ?? []).length) {
      problems.push(`${where}: plan does not cover the structure`); // a bug in planGraph itself
    }
    const expected = plan.units.map((u) => `${u.nodeIndex}+${u.fused}`).join(' ');
    const batches = t.batches.get(id) ?? [];
    const nThreads = g.nThreads ?? 0;
    if (batches.length !== nThreads) problems.push(`${where}: ${batches.length} NodeEventBatches for ${nThreads} threads`);
    const indexes = batches.map((b) => b.threadIndex ?? 0).sort((a, b) => a - b);
    if (indexes.join() !== [...Array(nThreads).keys()].join()) {
      problems.push(`${where}: thread indexes ${indexes.join()} are not 0..${nThreads - 1}`);
    }
    if (new Set(batches.map((b) => b.tid)).size !== batches.length) problems.push(`${where}: two batches of one thread`);
    const main = batches.find((b) => (b.threadIndex ?? 0) === 0);
    if (main && main.tid !== g.tid) {
      problems.push(`${where}: thread index 0 is tid ${main.tid}, but the graph was computed by tid ${g.tid}`);
    }
    const gStart = ns(g.startNs);
    const gEnd = gStart + ns(g.durationNs);
    for (const b of batches) {
      const rows = batchRows(b);
      const at = `${where} tid ${b.tid} (ith ${b.threadIndex ?? 0})`;
      let executed = 0;
      let fused = 0;
      let prev = -1;
      let busy = 0n;
      for (const r of rows) {
        if (r.nodeIndex <= prev) problems.push(`${at}: node ${r.nodeIndex} after node ${prev}`);
        if (r.nodeIndex >= nNodes) problems.push(`${at}: node index ${r.nodeIndex} >= n_nodes ${nNodes}`);
        prev = r.nodeIndex;
        executed++;
        fused += r.fused;
        busy += r.computeNs + r.barrierNs;
      }
      const got = rows.map((r) => `${r.nodeIndex}+${r.fused}`).join(' ');
      if (got !== expected) problems.push(`${at}: rows (node+fused)\n  got      ${got}\n  expected ${expected}`);
      if (executed + fused + plan.skippedEmpty + plan.skippedNoCompute !== nNodes) {
        problems.push(
          `${at}: ${executed} rows + ${fused} fused + ${plan.skippedEmpty} empty + ${plan.skippedNoCompute} not computed != n_nodes ${nNodes}`,
        );
      }
      const first = rows[0];
      const last = rows[rows.length - 1];
      if (first && last) {
        const end = last.startNs + last.computeNs + last.barrierNs;
        if (first.startNs + PROBE_SLACK_NS < gStart) problems.push(`${at}: first row starts ${gStart - first.startNs} ns before the graph`);
        if (end > gEnd + PROBE_SLACK_NS) problems.push(`${at}: last row ends ${end - gEnd} ns after the graph`);
        if (busy > gEnd - gStart + PROBE_SLACK_NS) problems.push(`${at}: compute+barrier ${busy} ns > graph duration ${gEnd - gStart} ns`);
      }
    }
    checks.push({ graphId: id, nNodes, plan, threads: nThreads });
  }
  expect(problems, problems.slice(0, 12).join('\n')).toEqual([]);
  // node events = executed units x threads, summed over graphs, as the summary and SessionEnd count them.
  const rowsExpected = checks.reduce((a, c) => a + c.plan.units.length * c.threads, 0);
  expect(t.summary.node_events).toBe(rowsExpected);
  const recorded = lossByKind(t.sessionEnd?.totals?.recorded);
  if (t.sessionEnd) expect(recorded[EventKind.EVENT_KIND_NODE]).toBe(BigInt(rowsExpected));
  return checks;
}

/** Op name of node `i` of a structure, by the engine's op names. */
export function opOf(t: DecodedTrace, pid: number, s: v1.IGraphStructure | undefined, i: number): string {
  const names = t.engines.get(pid)?.opNames ?? [];
  const op = s?.nodes?.[i]?.op ?? -1;
  return names[op] ?? `op${op}`;
}

/** Each graph is computed inside exactly one llama_decode, on the thread that called it, and each call computes >= 1 graph. */
export function expectGraphsInsideTokens(t: DecodedTrace): void {
  const problems: string[] = [];
  const perToken = new Map<bigint, number>();
  for (const g of t.graphs) {
    const s = ns(g.startNs);
    const e = s + ns(g.durationNs);
    const around = t.tokens.filter((k) => ns(k.startNs) <= s && e <= ns(k.startNs) + ns(k.durationNs) && k.tid === g.tid);
    if (around.length !== 1) problems.push(`graph ${ns(g.graphId)} (tid ${g.tid}) lies inside ${around.length} TokenEvents`);
    for (const k of around) perToken.set(ns(k.seq), (perToken.get(ns(k.seq)) ?? 0) + 1);
  }
  for (const k of t.tokens) {
    if (!perToken.has(ns(k.seq))) problems.push(`llama_decode #${ns(k.seq)} (${k.nTokens} tokens) computed no graph`);
  }
  expect(problems, problems.slice(0, 12).join('\n')).toEqual([]);
}

/** TokenEvent.seq runs 1..N without gaps, all calls succeeded, all from one context. */
export function expectTokenSequence(t: DecodedTrace): void {
  expect(t.tokens.map((k) => Number(ns(k.seq)))).toEqual(t.tokens.map((_, i) => i + 1));
  expect(t.tokens.filter((k) => (k.result ?? 0) !== 0).map((k) => k.result)).toEqual([]);
  expect(new Set(t.tokens.map((k) => ns(k.contextId))).size).toBe(1);
}

/** SessionEnd's totals report no lost event of any kind. */
export function expectNoLoss(t: DecodedTrace): void {
  expect(t.sessionEnd, 'no SessionEnd packet').toBeDefined();
  const lost = lossByKind(t.sessionEnd?.totals?.lost);
  const nonzero = Object.entries(lost).filter(([, n]) => n !== 0n).map(([k, n]) => `${EventKind[Number(k)]}: ${n}`);
  expect(nonzero, 'events lost at default settings').toEqual([]);
  expect(t.summary.lost_events).toBe(0);
}

/** The engine's op / unary / GLU names are GGML's enums, in order, as ggml.h declares them. */
export function expectOpNames(t: DecodedTrace, facts: GgmlFacts): void {
  expect(t.engines.size, 'no EngineInfo packet').toBeGreaterThan(0);
  for (const e of t.engines.values()) {
    expect(e.opNames).toEqual(facts.opNames);
    expect(e.unaryOpNames).toEqual(facts.unaryOpNames);
    expect(e.gluOpNames).toEqual(facts.gluOpNames);
    for (const name of ['MUL_MAT', 'MUL_MAT_ID', 'RMS_NORM', 'MUL', 'ADD', 'ROPE', 'GET_ROWS', 'SOFT_MAX', 'GLU', 'UNARY']) {
      expect(e.opNames).toContain(name);
    }
  }
}

/**
 * The engine file with the compute loop is probed at node level as PROFINFER_NODE_PROBES
 * asks (ModuleInfo.probes: name and how), and with that mode's probes only: one probe
 * per unit means no dispatch, fused-kernel or two-probe barrier probe is left attached.
 */
export function expectNodeProbeMode(t: DecodedTrace): void {
  const loops = t.modules.filter((m) => (m.probes ?? []).some((p) => p.name === 'graph_enter'));
  expect(loops.length, 'no module with ggml_graph_compute').toBeGreaterThan(0);
  for (const m of loops) {
    const node = (m.probes ?? []).filter((p) => (p.name ?? '').startsWith('node_'));
    const got = new Set(node.map((p) => `${p.name} ${p.how}`));
    for (const want of expectedNodeProbes()) expect([...got], m.path ?? '').toContain(`${want.name} ${want.how}`);
    if (NODE_PROBES !== 'two') {
      expect(node.filter((p) => p.name !== 'node_loop_barrier').map((p) => p.name), m.path ?? '').toEqual([]);
      // in-loop and final barrier sites: two per compute-loop function at least
      expect(node.length, m.path ?? '').toBeGreaterThanOrEqual(2);
    } else {
      expect(node.filter((p) => p.name === 'node_loop_barrier'), m.path ?? '').toEqual([]);
    }
  }
}
