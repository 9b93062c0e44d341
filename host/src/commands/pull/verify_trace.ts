// verify_trace.ts: is a pulled trace whole? Readable packet by packet to its
// last byte, and as big as the device said.
import { stat } from 'node:fs/promises';
import { readTraceFile, TraceReadError, TruncatedTraceError } from '../../decode/stream_reader.js';

export interface Verdict {
  readonly ok: boolean;
  readonly packets: number;
  readonly bytes: number;
  /** Why not ok, or what a truncated trace lacks. */
  readonly problem?: string;
}

/** `cutAllowed`: a trace the device marked truncated may end inside a packet. */
export async function verifyTrace(path: string, expectedBytes: number, cutAllowed: boolean): Promise<Verdict> {
  const bytes = (await stat(path)).size;
  if (bytes !== expectedBytes) return { ok: false, packets: 0, bytes, problem: `${bytes} bytes, the device index says ${expectedBytes}` };
  let packets = 0;
  try {
    for await (const p of readTraceFile(path)) packets = p.index + 1;
  } catch (e) {
    if (!(e instanceof TraceReadError)) throw e;
    if (cutAllowed && e instanceof TruncatedTraceError) return { ok: true, packets, bytes, problem: `cut at byte ${e.offset}: ${packets} whole packets` };
    return { ok: false, packets, bytes, problem: `unreadable after ${packets} packets: ${e.message}` };
  }
  if (packets === 0) return { ok: false, packets, bytes, problem: 'no packets: not a ProfInfer trace' };
  return { ok: true, packets, bytes };
}
