// counters.ts: per-op totals of the counters recorded per node
// (profinferd record --counters; CounterDescriptor + CounterColumn). Pure
// functions over the trace model: the analyze command prints and exports them.
//
// A row without a value (CounterColumn.unmeasured_row: NaN in the model) is
// counted as unmeasured, never summed as 0. Counters the collector could not
// open (CounterDescriptor.live false) are listed with the reason and have no
// rows at all.
import { longToBigInt, type v1 } from '../proto.js';
import type { Dag } from './dag.js';
import { TraceModelError, type TraceModel } from './trace_model.js';

/**
 * One value per row of a decoded CounterColumn (protobufjs objects, as the
 * exporters hold them): undefined where the row was not measured
 * (unmeasured_row). Throws on a column that does not fit `nRows` rows.
 */
export function counterColumnRows(col: v1.ICounterColumn, nRows: number): (number | undefined)[] {
  const values = col.delta ?? [];
  const missing = col.unmeasuredRow ?? [];
  if (values.length + missing.length !== nRows)
    throw new TraceModelError(`CounterColumn ${col.counterId ?? 0}: ${values.length} deltas and ${missing.length} unmeasured rows for ${nRows} rows`);
  const rows: (number | undefined)[] = new Array<number | undefined>(nRows);
  let v = 0;
  let m = 0;
  for (let i = 0; i < nRows; i++) {
    if (m < missing.length && missing[m] === i) {
      rows[i] = undefined;
      m++;
    } else rows[i] = Number(longToBigInt(values[v++]));
  }
  if (m !== missing.length) throw new TraceModelError(`CounterColumn ${col.counterId ?? 0}: unmeasured_row is not ascending or past the batch`);
  return rows;
}

export interface CounterInfo {
  readonly id: number;
  readonly name: string;
  readonly kind: string;
  readonly live: boolean;
  /** Why it was not recorded (live false). */
  readonly error: string | undefined;
  /** Deltas run from the thread's previous barrier entry (one probe per node), not from the row start. */
  readonly includesPreviousBarrier: boolean;
}

export interface OpCounterTotal {
  /** Op key as in stats.ts: GGML op (UNARY / GLU function), fused kernels joined with "+". */
  readonly op: string;
  /** Rows with a value, and without one. */
  readonly measured: number;
  readonly unmeasured: number;
  /** Sum of the measured deltas. */
  readonly total: number;
  /** Compute ns of the measured rows: the span most deltas cover. */
  readonly computeNs: number;
}

export interface CounterTotals {
  readonly counter: CounterInfo;
  readonly measured: number;
  readonly unmeasured: number;
  readonly total: number;
  /** Largest total first. */
  readonly ops: readonly OpCounterTotal[];
}

export interface CounterReport {
  readonly counters: readonly CounterInfo[];
  /** Live counters with rows, in counter id order. */
  readonly totals: readonly CounterTotals[];
}

/** Op key of every node of every structure, as computeStats builds it. */
function opKeysOf(dags: readonly Dag[]): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const d of dags) {
    keys.set(
      d.structureId,
      d.nodes.map((n) =>
        n.fusedCount > 0 ? d.nodes.slice(n.index, n.index + n.fusedCount + 1).map((f) => f.op).join('+') : n.op,
      ),
    );
  }
  return keys;
}

export function counterReport(model: TraceModel, dags: readonly Dag[]): CounterReport {
  const infos = new Map<number, CounterInfo>();
  for (const c of model.counters) {
    const id = c.counterId ?? 0;
    infos.set(id, {
      id,
      name: c.name || `counter${id}`,
      kind: c.kind ?? '',
      live: c.live ?? false,
      error: c.live ? undefined : c.error || 'not recorded',
      includesPreviousBarrier: model.counterIncludesPreviousBarrier.has(id),
    });
  }
  // Columns whose descriptor is missing (a cut trace): still reported, by id.
  for (const id of model.counterColumns.keys()) {
    if (!infos.has(id)) {
      infos.set(id, {
        id,
        name: `counter${id}`,
        kind: '',
        live: true,
        error: undefined,
        includesPreviousBarrier: model.counterIncludesPreviousBarrier.has(id),
      });
    }
  }
  const keys = opKeysOf(dags);
  const nodes = model.nodes;
  const totals: CounterTotals[] = [];
  for (const [id, column] of [...model.counterColumns].sort((a, b) => a[0] - b[0])) {
    const byOp = new Map<string, { measured: number; unmeasured: number; total: number; computeNs: number }>();
    let measured = 0;
    let unmeasured = 0;
    let total = 0;
    for (let r = 0; r < nodes.length; r++) {
      const v = column[r] as number;
      const sid = model.graphs[nodes.graph[r] as number]?.structureId ?? '0';
      const op = keys.get(sid)?.[nodes.node[r] as number] ?? '(no structure)';
      let acc = byOp.get(op);
      if (acc === undefined) byOp.set(op, (acc = { measured: 0, unmeasured: 0, total: 0, computeNs: 0 }));
      if (Number.isNaN(v)) {
        acc.unmeasured++;
        unmeasured++;
        continue;
      }
      acc.measured++;
      acc.total += v;
      acc.computeNs += nodes.compute[r] as number;
      measured++;
      total += v;
    }
    totals.push({
      counter: infos.get(id) as CounterInfo,
      measured,
      unmeasured,
      total,
      ops: [...byOp]
        .map(([op, a]) => ({ op, ...a }))
        .sort((a, b) => b.total - a.total || b.measured - a.measured || a.op.localeCompare(b.op)),
    });
  }
  return { counters: [...infos.values()].sort((a, b) => a.id - b.id), totals };
}

export function counterReportToJson(r: CounterReport): Record<string, unknown> {
  return {
    counters: r.counters.map((c) => ({
      id: c.id,
      name: c.name,
      kind: c.kind,
      live: c.live,
      ...(c.error === undefined ? {} : { error: c.error }),
      span: c.includesPreviousBarrier ? 'previous barrier + compute' : 'compute',
    })),
    totals: r.totals.map((t) => ({
      counter: t.counter.name,
      measured_rows: t.measured,
      unmeasured_rows: t.unmeasured,
      total: t.total,
      ops: t.ops.map((o) => ({
        op: o.op,
        measured_rows: o.measured,
        unmeasured_rows: o.unmeasured,
        total: o.total,
        compute_ns: o.computeNs,
      })),
    })),
  };
}

const fmt = (v: number): string => (Math.abs(v) >= 1e6 ? v.toExponential(3) : String(Math.round(v * 100) / 100));

/** Text tables for analyze: one per live counter, plus a line per counter not recorded. */
export function counterTables(r: CounterReport, top: number): string[] {
  if (r.counters.length === 0) return [];
  const out = ['', '  counters per op (profinferd record --counters; sums over measured rows and threads)'];
  for (const c of r.counters) if (!c.live) out.push(`  ${c.name}: not recorded: ${c.error}`);
  for (const t of r.totals) {
    const share = t.measured + t.unmeasured ? ((100 * t.measured) / (t.measured + t.unmeasured)).toFixed(1) : '0.0';
    out.push(
      '',
      `  ${t.counter.name} (${t.counter.kind || 'counter'}): total ${fmt(t.total)} over ${t.measured} rows; ` +
        `${t.unmeasured} rows not measured (${share}% measured); each delta covers ` +
        (t.counter.includesPreviousBarrier ? "the previous row's barrier wait and the row's compute" : "the row's compute"),
    );
    out.push(`  ${'op'.padEnd(26)}${'total'.padStart(14)}${'per row'.padStart(12)}${'measured'.padStart(10)}${'missing'.padStart(9)}`);
    for (const o of t.ops.slice(0, top)) {
      out.push(
        `  ${o.op.slice(0, 25).padEnd(26)}${fmt(o.total).padStart(14)}${(o.measured ? fmt(o.total / o.measured) : '-').padStart(12)}` +
          `${String(o.measured).padStart(10)}${String(o.unmeasured).padStart(9)}`,
      );
    }
  }
  return out;
}
