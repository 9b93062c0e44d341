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
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSyntheticTrace } from '../support/synthetic_trace.js';

const target = Number(process.argv[2] ?? 2_000_000);
const reps = Number(process.argv[3] ?? 5);
const format = (process.argv[4] ?? 'perfetto') as 'perfetto' | 'json';
const root = resolve(process.argv[5] ?? '.');
if (!Number.isInteger(target) || target <= 0 || !Number.isInteger(reps) || reps <= 0)
  throw new Error('usage: bench.mts [N node events > 0] [REPS > 0] [perfetto|json] [ROOT]');
const { runExport } = (await import(pathToFileURL(join(root, 'host/src/commands/export/export.ts')).href)) as typeof import(
  '../../host/src/commands/export/export.js'
);

const dir = mkdtempSync(join(tmpdir(), 'export-bench-'));
const { file, graphs } = writeSyntheticTrace(target, dir);

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
