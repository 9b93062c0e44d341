// A large trace made of a real one, for the throughput benchmarks
// (test/analysis/bench.mts, test/export/bench.mts): the decode graph of
// test/analysis/fixtures/tiny-q8_0.pftrace repeated with new graph ids until it
// holds `target` node events, written to a file in `dir`, packets in the order
// the collector writes them (a graph's node batches, its GraphEvent, then the
// TokenEvent).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitTrace } from '../../host/src/decode/stream_reader.js';
import { Trace, TracePacket, type v1 } from '../../host/src/proto.js';

const FIXTURE = fileURLToPath(new URL('../analysis/fixtures/tiny-q8_0.pftrace', import.meta.url));

export function writeSyntheticTrace(target: number, dir: string): { file: string; graphs: number } {
  const { packets } = splitTrace(readFileSync(FIXTURE));
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
    const ps: v1.ITracePacket[] = [
      ...batches.map((b) => ({ nodeEvents: { ...b, graphId: g, startNs: t + 2000 } as unknown as v1.INodeEventBatch })),
      { graph: { ...graph, graphId: g, startNs: t + 1000 } as unknown as v1.IGraphEvent },
      { token: { pid: graph.pid, tid: graph.tid, seq: g, startNs: t, durationNs: 3_000_000, nTokens: 1, contextId: 1 } as unknown as v1.ITokenEvent },
    ];
    chunks.push(Trace.encode({ packet: ps }).finish());
    t += 3_000_000;
  }
  const file = join(dir, 'bench.pftrace');
  writeFileSync(file, Buffer.concat(chunks));
  return { file, graphs };
}
