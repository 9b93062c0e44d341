// device_traces.ts: the traces a device stores, listed through profinferd
// serve (ListTraces) or, when no service runs, from its trace directory
// through the shell (ls + the service's index.tsv). Both are outside input.
import { longToBigInt, type v1 } from '../../proto.js';
import { DeviceError } from '../../transport/device_errors.js';
import { DEVICE_TRACE_DIR } from '../../transport/device_layout.js';
import type { DeviceTransport } from '../../transport/device_transport.js';
import { linkDevice } from '../../transport/service_link.js';

export interface DeviceTrace {
  readonly trace_id: string;
  /** "complete", "truncated", "running", or "unindexed" (a file the index does not list). */
  readonly status: string;
  readonly size_bytes: number;
  readonly start_unix_ns: bigint;
  readonly target: string;
}

/** Trace ids are made by profinferd: [0-9a-z-] (trace_store.c). Anything else is not ours. */
const TRACE_ID_RE = /^[0-9a-z-]{1,48}$/;
const SEP = '---profinfer---';

export function fromTraceEntries(entries: readonly v1.ITraceEntry[]): DeviceTrace[] {
  return entries
    .filter((e) => TRACE_ID_RE.test(e.traceId ?? ''))
    .map((e) => ({
      trace_id: e.traceId as string,
      status: e.status ?? '',
      size_bytes: Number(longToBigInt(e.sizeBytes)),
      start_unix_ns: longToBigInt(e.startUnixNs),
      target: e.target ?? '',
    }));
}

export function listScript(): string {
  return `cd ${DEVICE_TRACE_DIR} 2>/dev/null || exit 3; for f in $(ls); do case "$f" in *.pftrace) echo "$(wc -c < "$f") $f";; esac; done; echo ${SEP}; cat index.tsv 2>/dev/null; true`;
}

/** Parses listScript()'s output: files with their sizes, joined with what the index says of them. */
export function parseListing(out: string): DeviceTrace[] {
  const [files = '', index = ''] = out.split(SEP);
  const indexed = new Map<string, { status: string; start: bigint; size: number; target: string }>();
  for (const line of index.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split('\t');
    if (f.length < 7 || !TRACE_ID_RE.test(f[0] as string) || !/^\d{1,20}$/.test(f[3] as string) || !/^\d{1,20}$/.test(f[5] as string)) continue;
    // A trace still "running" in the index of a service that is not running was cut off.
    const status = f[2] === 'running' ? 'truncated' : (f[2] as string);
    indexed.set(f[0] as string, { status, start: BigInt(f[3] as string), size: Number(f[5]), target: f.slice(6).join('\t') });
  }
  const traces: DeviceTrace[] = [];
  for (const line of files.split('\n')) {
    const m = /^\s*(\d{1,20}) ([0-9a-z-]{1,48})\.pftrace$/.exec(line.trim());
    if (!m) continue;
    const id = m[2] as string;
    const size = Number(m[1]);
    const e = indexed.get(id);
    traces.push({
      trace_id: id,
      status: e ? e.status : 'unindexed',
      // A finished trace must be as big as its index says; a cut one is what is there.
      size_bytes: e && e.status === 'complete' ? e.size : size,
      start_unix_ns: e?.start ?? 0n,
      target: e?.target ?? '',
    });
  }
  return traces;
}

export async function listDeviceTraces(t: DeviceTransport): Promise<{ traces: DeviceTrace[]; via: 'service' | 'shell' }> {
  try {
    const link = await linkDevice(t);
    try {
      return { traces: fromTraceEntries(await link.client.listTraces()), via: 'service' };
    } finally {
      await link.close();
    }
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    // No service (not deployed, not running): read the directory.
  }
  const r = await t.shell(listScript(), 60_000);
  if (r.code === 3) return { traces: [], via: 'shell' };
  return { traces: parseListing(r.stdout), via: 'shell' };
}
