// Reads a trace packet by packet and writes it converted (export/perfetto.ts,
// export/chrome_json.ts) to a file, atomically (a temporary file renamed at
// the end), or to stdout.
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { decodePacket } from '../../decode/packets.js';
import { readTraceFile, TraceReadError } from '../../decode/stream_reader.js';
import { exportChromeJson } from '../../export/chrome_json.js';
import { exportPerfetto } from '../../export/perfetto.js';
import type { TimelineOptions, TimelineStats } from '../../export/timeline.js';
import type { v1 } from '../../proto.js';
import type { ExportArgs, ExportFormat } from './command.js';

/** Files at least this big show progress on a terminal. */
const PROGRESS_BYTES = 32 * 1024 * 1024;
const PROGRESS_EVERY_MS = 500;

/** The trace cannot be exported. */
export class ExportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

export interface ExportResult {
  readonly input: string;
  readonly output: string;
  readonly format: ExportFormat;
  readonly bytes: number;
  readonly input_bytes: number;
  readonly tokens: number;
  readonly graphs: number;
  readonly node_events: number;
  readonly seconds: number;
  readonly node_events_per_s: number;
  /** Set when the trace was cut: what was exported is everything before the cut. */
  readonly warning?: string;
}

export function defaultOutput(trace: string, format: ExportFormat): string {
  const base = trace.replace(/\.pftrace$/, '');
  return `${base}${format === 'json' ? '.json' : '.perfetto-trace'}`;
}

/**
 * Decoded packets of a trace file. A cut trace ends the stream quietly; its
 * error goes to onCut. onBytes gets the offset reached, for progress.
 */
export async function* tracePackets(
  path: string,
  onCut: (err: TraceReadError) => void,
  onBytes?: (offset: number) => void,
): AsyncGenerator<v1.ITracePacket, void, undefined> {
  try {
    for await (const raw of readTraceFile(path)) {
      onBytes?.(raw.offset);
      yield decodePacket(raw);
    }
  } catch (err) {
    if (!(err instanceof TraceReadError)) throw err;
    onCut(err);
  }
}

/** Converted chunks of a trace file in a format (bytes for perfetto, text for json). */
export function convert(
  packets: AsyncIterable<v1.ITracePacket>,
  format: ExportFormat,
  onStats: (s: TimelineStats) => void,
  options: TimelineOptions = {},
): AsyncGenerator<Uint8Array | string, void, undefined> {
  switch (format) {
    case 'perfetto':
      return exportPerfetto(packets, onStats, options);
    case 'json':
      return exportChromeJson(packets, onStats, options);
    default: {
      const unreachable: never = format;
      throw new ExportError(`unknown export format ${String(unreachable)}`);
    }
  }
}

async function writeAll(out: WriteStream | NodeJS.WriteStream, chunks: AsyncIterable<Uint8Array | string>): Promise<number> {
  let bytes = 0;
  let failed: NodeJS.ErrnoException | undefined;
  const onError = (e: NodeJS.ErrnoException): void => {
    failed = e;
    out.emit('drain'); // wake a writer waiting for drain
  };
  out.on('error', onError);
  try {
    for await (const chunk of chunks) {
      if (failed !== undefined) break;
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } finally {
    out.off('error', onError);
  }
  // A reader that stops early (`export -o - | head`) is not an error.
  if (failed !== undefined && !(out === process.stdout && failed.code === 'EPIPE')) throw failed;
  return bytes;
}

export async function runExport(args: ExportArgs): Promise<ExportResult> {
  const input = args.trace;
  const inputBytes = await stat(input).then(
    (s) => s.size,
    (cause: unknown) => {
      throw new ExportError(`cannot read ${input}: ${(cause as Error).message}`, { cause });
    },
  );
  const output = args.output ?? defaultOutput(input, args.format);
  const showProgress = args.progress ?? (inputBytes >= PROGRESS_BYTES && process.stderr.isTTY === true);
  let lastProgress = 0;
  const onBytes = showProgress
    ? (offset: number): void => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        process.stderr.write(`\rexport: ${((100 * offset) / (inputBytes || 1)).toFixed(0)}% of ${input}`);
      }
    : undefined;
  let warning: string | undefined;
  let stats: TimelineStats | undefined;
  const started = performance.now();
  const packets = tracePackets(input, (err) => {
    warning = `${err.message}; exported the ${err.packetIndex} whole packets before it`;
  }, onBytes);
  const chunks = convert(packets, args.format, (s) => (stats = s), { flowsForSeq: args.flows });
  const requireTrace = (): void => {
    if ((stats?.packets ?? 0) === 0) throw new ExportError(`${input} is not a ProfInfer trace: ${warning ?? 'it holds no packets'}`);
  };
  let bytes: number;
  if (output === '-') {
    bytes = await writeAll(process.stdout, chunks);
    if (stats !== undefined) requireTrace();
    else warning = 'stdout was closed before the end: the output is partial';
  } else {
    const tmp = `${output}.tmp-${process.pid}`;
    const out = createWriteStream(tmp);
    try {
      bytes = await writeAll(out, chunks);
      out.end();
      await once(out, 'finish');
      requireTrace();
      await rename(tmp, output);
    } catch (cause) {
      out.destroy();
      await rm(tmp, { force: true });
      if (cause instanceof ExportError) throw cause;
      throw new ExportError(`failed to export ${input} to ${output}: ${(cause as Error).message}`, { cause });
    }
  }
  if (showProgress) process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;
  const s = stats ?? { tokens: 0, graphs: 0, nodeEvents: 0, packets: 0, orphanBatches: 0 };
  return {
    input,
    output,
    format: args.format,
    bytes,
    input_bytes: inputBytes,
    tokens: s.tokens,
    graphs: s.graphs,
    node_events: s.nodeEvents,
    seconds,
    node_events_per_s: seconds > 0 ? Math.round(s.nodeEvents / seconds) : 0,
    ...(warning === undefined ? {} : { warning }),
  };
}

export async function exportCommand(args: ExportArgs): Promise<number> {
  const r = await runExport(args);
  if (r.warning) process.stderr.write(`warning: ${r.warning}\n`);
  const line = args.json
    ? JSON.stringify(r)
    : `${r.output}: ${r.format}, ${(r.bytes / 1e6).toFixed(2)} MB from ${(r.input_bytes / 1e6).toFixed(2)} MB; ` +
      `${r.tokens} tokens, ${r.graphs} graphs, ${r.node_events} node events in ${r.seconds.toFixed(2)} s`;
  // With -o -, stdout carries the trace: the summary goes to stderr.
  (r.output === '-' ? process.stderr : process.stdout).write(line + '\n');
  return 0;
}
