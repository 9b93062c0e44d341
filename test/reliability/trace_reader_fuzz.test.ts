// Property-based fuzzing of everything on the host that reads trace bytes from
// outside (issue 12): the stream splitter, the packet decoder, the analysis
// model, the summary, every analysis (DAG, stats, roofline, scheduler,
// counters, experts), the HTML report, diff and both exporters. A
// trace may come from a device, a cut transfer or a newer collector: the only
// acceptable failures are the typed errors that name the byte offset.
// Bounded: a fixed number of runs per property, seeds printed on failure.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketDecodeError, decodePacket } from '../../host/src/decode/packets.js';
import {
  CorruptTraceError,
  MAX_PACKET_BYTES,
  TraceReadError,
  TruncatedTraceError,
  splitTrace,
  type RawPacket,
} from '../../host/src/decode/stream_reader.js';
import { analyzeModel } from '../../host/src/analysis/analysis_set.js';
import { diffStats } from '../../host/src/analysis/diff.js';
import { SchedDecodeError } from '../../host/src/analysis/sched.js';
import { TraceModelBuilder, TraceModelError } from '../../host/src/analysis/trace_model.js';
import { renderReport } from '../../host/src/report/html_report.js';
import { toChromeJson } from '../../host/src/export/chrome_json.js';
import { toPerfetto } from '../../host/src/export/perfetto.js';
import { SummaryBuilder } from '../../host/src/model/summary.js';
import type { TracePacket } from '../../host/src/proto.js';

const FIXTURES = ['tiny-q8_0.pftrace', 'moe-q8_0.pftrace'].map((f) =>
  new Uint8Array(readFileSync(fileURLToPath(new URL(`../analysis/fixtures/${f}`, import.meta.url)))),
);
const RUNS = Number(process.env.PROFINFER_FUZZ_RUNS ?? 150);

/** Errors that say what is wrong with the input; anything else is a bug. */
const TYPED = [TraceReadError, PacketDecodeError, TraceModelError, SchedDecodeError];

/** Everything the host does with a trace, as `analyze`, `summary` and `export` do it. */
function readAll(bytes: Uint8Array): { packets: readonly RawPacket[]; error: TraceReadError | undefined } {
  const { packets, error } = splitTrace(bytes);
  const model = new TraceModelBuilder();
  const summary = new SummaryBuilder();
  const decoded: TracePacket[] = [];
  for (const raw of packets) {
    model.add(raw);
    const p = decodePacket(raw);
    summary.add(p);
    decoded.push(p);
  }
  const a = analyzeModel(model.build(), { peaks: { gflops: 100, gbps: 20, source: 'user' }, expertTable: true });
  renderReport({ title: 'fuzz', ...a });
  diffStats(a.stats, a.stats);
  summary.build();
  toPerfetto(decoded);
  toChromeJson(decoded);
  return { packets, error };
}

/** Runs the pipeline; fails the property on any untyped exception. */
function survives(bytes: Uint8Array): boolean {
  try {
    readAll(bytes);
  } catch (err) {
    if (TYPED.some((T) => err instanceof T)) return true;
    throw err;
  }
  return true;
}

describe('trace decoding under hostile input', () => {
  it('the fixtures themselves read cleanly', () => {
    for (const f of FIXTURES) {
      const { packets, error } = readAll(f);
      expect(error).toBeUndefined();
      expect(packets.length).toBeGreaterThan(50);
    }
  });

  it('random bytes give typed errors only', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (b) => survives(b)), { numRuns: RUNS * 4 });
  });

  it('random bytes after a valid prefix keep the whole packets before them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: FIXTURES[0].length }), fc.uint8Array({ minLength: 1, maxLength: 512 }), (cut, junk) => {
        const whole = splitTrace(FIXTURES[0].subarray(0, cut)).packets.length;
        const bytes = new Uint8Array(cut + junk.length);
        bytes.set(FIXTURES[0].subarray(0, cut));
        bytes.set(junk, cut);
        expect(splitTrace(bytes).packets.length).toBeGreaterThanOrEqual(whole);
        return survives(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('a trace cut anywhere reads up to its last whole packet, then says it is truncated', () => {
    const full = splitTrace(FIXTURES[1]).packets;
    const ends = full.map((p) => p.offset + 1 + varintLength(p.bytes.length) + p.bytes.length);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: FIXTURES[1].length }), (cut) => {
        const { packets, error } = splitTrace(FIXTURES[1].subarray(0, cut));
        const expected = ends.filter((e) => e <= cut).length;
        expect(packets.length).toBe(expected);
        for (let i = 0; i < packets.length; i++) expect(packets[i].bytes).toEqual(full[i].bytes);
        if (ends.includes(cut) || cut === 0) expect(error).toBeUndefined();
        else {
          expect(error).toBeInstanceOf(TruncatedTraceError);
          // Where the data ran out; the message names where the cut frame starts.
          expect(error?.offset).toBe(cut);
          expect(error?.packetIndex).toBe(expected);
          expect(error?.message).toContain(`at byte ${ends[expected - 1] ?? 0}`);
        }
        return survives(FIXTURES[1].subarray(0, cut));
      }),
      { numRuns: Math.ceil(RUNS / 3) }, // the whole pipeline on the MoE trace: the slow one
    );
  });

  it('flipped bits and overwritten bytes anywhere in a real trace give typed errors only', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FIXTURES),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (trace, edits) => {
          const bytes = trace.slice();
          for (const [at, v] of edits) bytes[at % bytes.length] = v;
          return survives(bytes);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a length prefix beyond the limit is corrupt at once, without allocating it', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_PACKET_BYTES + 1, max: 2 ** 31 }), (len) => {
        const bytes = new Uint8Array([0x0a, ...varint(len), 1, 2, 3]);
        const { packets, error } = splitTrace(bytes);
        expect(packets).toHaveLength(0);
        expect(error).toBeInstanceOf(CorruptTraceError);
        expect(error?.offset).toBe(0);
        return true;
      }),
      { numRuns: 50 },
    );
  });

  it('a trace from a newer collector (unknown packet kinds and fields) still reads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 2000 }), fc.uint8Array({ maxLength: 64 }), (field, payload) => {
        // A packet whose only field is one this host does not know, spliced
        // between the fixture's packets: length-delimited, so skippable.
        const unknown = new Uint8Array([...varint((field << 3) | 2), ...varint(payload.length), ...payload]);
        const frame = new Uint8Array([0x0a, ...varint(unknown.length), ...unknown]);
        const base = splitTrace(FIXTURES[0]).packets;
        const at = base[Math.min(5, base.length - 1)].offset;
        const bytes = new Uint8Array(FIXTURES[0].length + frame.length);
        bytes.set(FIXTURES[0].subarray(0, at));
        bytes.set(frame, at);
        bytes.set(FIXTURES[0].subarray(at), at + frame.length);
        const { packets, error } = readAll(bytes);
        expect(error).toBeUndefined();
        expect(packets.length).toBe(base.length + 1);
        return true;
      }),
      { numRuns: 40 },
    );
  });
});

function varint(v: number): number[] {
  const out: number[] = [];
  let n = v;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function varintLength(v: number): number {
  return varint(v).length;
}
