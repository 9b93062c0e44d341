// Export throughput (issue 8 target: >= 1 M node events/s), on a synthetic
// trace made of a real one: the decode graph of test/analysis/fixtures/
// tiny-q8_0.pftrace repeated (new graph ids) until it holds N node events,
// written to a temp file, then exported end to end (read, decode, timeline,
// encode, write) the way `profinfer-host export` does, REPS times.
//
//   node --import tsx test/export/bench.mts [N=2000000] [REPS=5] [FORMAT=perfetto] [ROOT=.]
//
// Prints each run's node events/s (wall clock, as `export` reports it), the
// median, the median per CPU second of this process (steadier on a shared
// machine), and the output size. ROOT is a
// checkout whose exporter is measured (e.g. `git archive HEAD host` unpacked
// somewhere) so a change can be compared with the code before it in turns.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { splitTrace } from '../../host/src/decode/stream_reader.js';
import { Trace, TracePacket, type v1 } from '../../host/src/proto.js';

const target = Number(process.argv[2] ?? 2_000_000);
const reps = Number(process.argv[3] ?? 5);
const format = (process.argv[4] ?? 'perfetto') as 'perfetto' | 'json';
const root = resolve(process.argv[5] ?? '.');
if (!Number.isInteger(target) || target <= 0 || !Number.isInteger(reps) || reps <= 0)
  throw new Error('usage: bench.mts [N node events > 0] [REPS > 0] [perfetto|json] [ROOT]');
const { runExport } = (await import(pathToFileURL(join(root, 'host/src/commands/export/export.ts')).href)) as typeof import(
  '../../host/src/commands/export/export.js'
);

const here = dirname(fileURLToPath(import.meta.url));
const { packets } = splitTrace(readFileSync(join(here, '..', 'analysis', 'fixtures', 'tiny-q8_0.pftrace')));
const decoded = packets.map((p) => TracePacket.decode(p.bytes));
const meta = decoded.filter((p) => !p.nodeEvents && !p.graph && !p.token && !p.loss && !p.sessionEnd);
const graph = decoded.filter((p) => p.graph).at(-1)?.graph as v1.IGraphEvent;
const batches = decoded
  .filter((p) => p.nodeEvents && String(p.nodeEvents.graphId) === String(graph.graphId))
  .map((p) => p.nodeEvents as v1.INodeEventBatch);
const perGraph = batches.reduce((s, b) => s + (b.nodeIndexDelta?.length ?? 0), 0);
const graphs = Math.ceil(target / perGraph);
const chunks: Uint8Array[] = [Trace.encode({ packet: meta }).finish()];
let t = 1_000_000_000;
for (let g = 1; g <= graphs; g++) {
  // As the collector writes them: a graph's node batches, its GraphEvent, then the TokenEvent.
  const ps: v1.ITracePacket[] = [
    ...batches.map((b) => ({ nodeEvents: { ...b, graphId: g, startNs: t + 2000 } as unknown as v1.INodeEventBatch })),
    { graph: { ...graph, graphId: g, startNs: t + 1000 } as unknown as v1.IGraphEvent },
    { token: { pid: graph.pid, tid: graph.tid, seq: g, startNs: t, durationNs: 3_000_000, nTokens: 1, contextId: 1 } as unknown as v1.ITokenEvent },
  ];
  chunks.push(Trace.encode({ packet: ps }).finish());
  t += 3_000_000;
}
const dir = mkdtempSync(join(tmpdir(), 'export-bench-'));
const file = join(dir, 'bench.pftrace');
writeFileSync(file, Buffer.concat(chunks));
chunks.length = 0;

try {
  const rates: number[] = [];
  const cpuRates: number[] = [];
  let last: Awaited<ReturnType<typeof runExport>> | undefined;
  for (let i = 0; i < reps; i++) {
    const cpu0 = process.cpuUsage();
    last = await runExport({ trace: file, output: join(dir, `out.${format}`), format, progress: false });
    const cpu = process.cpuUsage(cpu0);
    rates.push(last.node_events_per_s);
    cpuRates.push(last.node_events / ((cpu.user + cpu.system) / 1e6));
  }
  const medianOf = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const median = medianOf(rates);
  console.log(
    `${format} ${root}: ${last?.node_events} node events (${graphs} graphs, ${(statSync(file).size / 1e6).toFixed(1)} MB in): ` +
      `runs ${rates.map((r) => (r / 1e6).toFixed(3)).join(' ')} M/s; median ${(median / 1e6).toFixed(3)} M/s; ` +
      `per CPU second ${(medianOf(cpuRates) / 1e6).toFixed(3)} M/s; ` +
      `${((last?.bytes ?? 0) / 1e6).toFixed(1)} MB out`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
