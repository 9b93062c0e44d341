// dag_svg.ts: a ProfDAG as SVG without Graphviz: computing nodes in layers by
// longest path from the graph's inputs (views folded into their producers),
// one column per layer, each box coloured by its block and shaded by its
// share of the graph's time; the critical path drawn thicker.
import type { Dag, DagNode } from '../analysis/dag.js';
import { color, esc, fmt } from './svg.js';

const BOX_W = 150;
const BOX_H = 30;
const GAP_X = 40;
const GAP_Y = 10;
const BLOCKS: readonly string[] = ['input', 'norm', 'attention', 'ffn', 'moe', 'residual', 'output', 'other'];

/** Depth of each computing node: 0 for nodes fed by inputs only. */
export function dagDepths(dag: Dag): Map<number, number> {
  const depth = new Map<number, number>();
  for (const n of dag.nodes) {
    if (n.view || n.fusedInto !== undefined) continue;
    let d = 0;
    for (const p of n.producers) if (p.kind === 'node') d = Math.max(d, (depth.get(p.index) ?? 0) + 1);
    depth.set(n.index, d); // nodes come in execution order: producers first
  }
  return depth;
}

export function dagToSvg(dag: Dag, o: { title?: string } = {}): string {
  const depth = dagDepths(dag);
  const columns: DagNode[][] = [];
  for (const [i, d] of depth) (columns[d] ??= []).push(dag.nodes[i] as DagNode);
  const pos = new Map<number, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((n, r) => pos.set(n.index, { x: 10 + c * (BOX_W + GAP_X), y: 40 + r * (BOX_H + GAP_Y) })));
  const width = 20 + columns.length * (BOX_W + GAP_X);
  const height = 60 + Math.max(1, ...columns.map((c) => c.length)) * (BOX_H + GAP_Y);
  const total = dag.nodes.reduce((s, n) => s + n.wallNs, 0) || 1;
  const critical = new Set(dag.criticalPath.nodes);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="DAG">`,
    `<text x="4" y="16" class="title">${esc(o.title ?? `graph structure ${dag.structureId}: ${depth.size} computing nodes, ${dag.layers.length} layers`)}</text>`,
  ];
  BLOCKS.forEach((b, i) => out.push(`<rect x="${4 + i * 86}" y="22" width="10" height="10" fill="${color(i)}"/><text x="${18 + i * 86}" y="31" class="small">${b}</text>`));
  for (const n of dag.nodes) {
    const to = pos.get(n.index);
    if (!to) continue;
    for (const p of n.producers) {
      if (p.kind !== 'node') continue;
      const from = pos.get(p.index);
      if (!from) continue;
      const hot = critical.has(n.index) && critical.has(p.index);
      out.push(
        `<line x1="${from.x + BOX_W}" y1="${from.y + BOX_H / 2}" x2="${to.x}" y2="${to.y + BOX_H / 2}" stroke="${hot ? '#c0392b' : '#bbb'}" stroke-width="${hot ? 2 : 0.7}"/>`,
      );
    }
  }
  for (const n of dag.nodes) {
    const p = pos.get(n.index);
    if (!p) continue;
    const share = n.wallNs / total;
    const block = Math.max(0, BLOCKS.indexOf(n.block));
    const label = `${n.op}${n.fusedCount ? `+${n.fusedCount}` : ''} ${n.name}`;
    out.push(
      `<g><title>${esc(`#${n.index} ${n.op} ${n.name} [${n.ne.join('x')}] ${n.typeName}: ${fmt(n.wallNs / Math.max(1, n.executions) / 1e3)} us per execution, ${(100 * share).toFixed(1)}% of the graph`)}</title>`,
      `<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="3" fill="${color(block)}" fill-opacity="${(0.15 + 0.85 * Math.min(1, share * 8)).toFixed(2)}" stroke="${critical.has(n.index) ? '#c0392b' : '#666'}" stroke-width="${critical.has(n.index) ? 2 : 0.6}"/>`,
      `<text x="${p.x + 4}" y="${p.y + 13}" class="small">${esc(label.slice(0, 26))}</text>`,
      `<text x="${p.x + 4}" y="${p.y + 25}" class="small">${esc(`${fmt(n.wallNs / Math.max(1, n.executions) / 1e3)} us  ${(100 * share).toFixed(1)}%`)}</text></g>`,
    );
  }
  out.push('</svg>');
  return out.join('');
}
