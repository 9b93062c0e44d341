// Analysis throughput and memory, on a synthetic trace made of a real one:
// the decode graph of fixtures/tiny-q8_0.pftrace repeated (new graph ids)
// until it holds N node events, written to a temp file, then streamed.
//
//   node --expose-gc --import tsx test/analysis/bench.mts [N=2000000]
//
// Prints node events/s for loading (file -> columnar model) and end to end
// (load + DAG + stats + roofline), and the model's bytes per node event
// (heap + array buffers after load, GC'd, minus before). Issue 7 targets:
// >= 2 M node events/s, <= 64 bytes per node event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDags } from '../../host/src/analysis/dag.js';
import { roofline } from '../../host/src/analysis/roofline.js';
import { computeStats } from '../../host/src/analysis/stats.js';
import { loadTraceModel } from '../../host/src/commands/analyze/analyze.js';
import { writeSyntheticTrace } from '../support/synthetic_trace.js';

const target = Number(process.argv[2] ?? 2_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const dir = mkdtempSync(join(tmpdir(), 'analysis-bench-'));
const { file, graphs } = writeSyntheticTrace(target, dir);

try {
  gc();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  const { model } = await loadTraceModel(file);
  const t1 = performance.now();
  gc();
  const m1 = process.memoryUsage();
  const dags = buildDags(model);
  const stats = computeStats(model, dags);
  roofline(dags, { gflops: 100, gbps: 20, source: 'user' });
  const t2 = performance.now();
  const n = model.nodes.length;
  const held = m1.heapUsed + m1.arrayBuffers - (m0.heapUsed + m0.arrayBuffers);
  console.log(
    `${n} node events (${graphs} graphs): load ${(t1 - t0).toFixed(0)} ms = ${(n / (t1 - t0) / 1e3).toFixed(2)} M/s; ` +
      `analysis ${(t2 - t1).toFixed(0)} ms; end to end ${(n / (t2 - t0) / 1e3).toFixed(2)} M/s; ` +
      `model ${(held / n).toFixed(1)} bytes per node event; ${stats.ops.size} op kinds`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
