// chrome_json.ts: ProfInfer packets to the Chrome JSON trace format
// ({"traceEvents": [...]}, "X" complete events, ts and dur in µs), for tools
// that read only that (chrome://tracing, speedscope, scripts). Perfetto opens
// it too, best-effort; perfetto.ts is the native, smaller form. Same timeline
// (timeline.ts), so both formats hold the same slices and counters.
import type { v1 } from '../proto.js';
import {
  type CounterTrack,
  type FlatArgs,
  type ProcessSliceTrack,
  type ProcessTrack,
  type Slice,
  type ThreadTrack,
  type TimelineOptions,
  type TimelineSink,
  type TimelineStats,
  runTimeline,
  streamTimeline,
} from './timeline.js';

/**
 * Chrome JSON has no tracks but threads: a ProcessSliceTrack (a MoE layer)
 * becomes a pseudo-thread with this tid plus its rank, above any Linux tid
 * (pid_max is at most 2^22).
 */
export const PSEUDO_TID_BASE = 2 ** 30;

/** A chunk is handed out once it holds about this many characters. */
const CHUNK_CHARS = 1 << 20;

export interface ChromeJsonStats extends TimelineStats {
  slices: number;
  chars: number;
}

/** ns as µs with three decimals, exact (no floating point). */
function micros(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  const frac = (a % 1000n).toString().padStart(3, '0');
  return `${neg ? '-' : ''}${a / 1000n}.${frac}`;
}

function microsNum(ns: number): string {
  // ns < 2^53: integer division stays exact.
  const whole = Math.floor(ns / 1000);
  const frac = ns - whole * 1000;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** `"key":` of the few argument keys there are, quoted once. */
const quotedKeys = new Map<string | number | boolean, string>();

function argsJson(args: FlatArgs): string {
  let out = '';
  for (let i = 0; i + 1 < args.length; i += 2) {
    const k = args[i] as string | number | boolean;
    let key = quotedKeys.get(k);
    if (key === undefined) quotedKeys.set(k, (key = `${JSON.stringify(String(k))}:`));
    const v = args[i + 1];
    // Finite numbers print the same with String() as with JSON.stringify, faster.
    const value = typeof v === 'number' && Number.isFinite(v) ? String(v) : JSON.stringify(v);
    out += i > 0 ? `,${key}${value}` : `${key}${value}`;
  }
  return out;
}

/** Timeline sink that writes Chrome JSON text into chunks. */
export class ChromeJsonWriter implements TimelineSink {
  readonly stats = { slices: 0, chars: 0 };
  readonly #origin: () => bigint;
  #originNs: bigint | undefined;
  readonly #chunks: string[] = [];
  #parts: string[] = [];
  #partChars = 0;
  #events = 0;
  readonly #counterNames = new Map<string, { name: string; pid: number }>();
  readonly #sliceTracks = new Map<string, { pid: number; tid: number }>();
  readonly #fixed = new WeakMap<FlatArgs, string>();
  /** Slice.shared repeats for a batch's slices, which come one after another: its JSON, kept for the last one. */
  #lastShared: FlatArgs | undefined;
  #lastSharedJson = '';
  readonly #names = new Map<string, string>();

  constructor(origin: () => bigint) {
    this.#origin = origin;
    this.#emit('{"displayTimeUnit":"ns","traceEvents":[\n');
  }

  #ts(rel: number): string {
    // The timeline fixes its origin before it draws anything with a time.
    if (this.#originNs === undefined) this.#originNs = this.#origin();
    return this.#originNs === 0n ? microsNum(rel) : micros(this.#originNs + BigInt(rel));
  }

  #event(json: string): void {
    this.#emit(this.#events++ === 0 ? json : `,\n${json}`);
  }

  #emit(text: string): void {
    this.#parts.push(text);
    this.#partChars += text.length;
    if (this.#partChars >= CHUNK_CHARS) this.#cut();
  }

  #cut(): void {
    if (this.#parts.length === 0) return;
    const chunk = this.#parts.join('');
    this.stats.chars += chunk.length;
    this.#chunks.push(chunk);
    this.#parts = [];
    this.#partChars = 0;
  }

  /** A slice name as JSON (names repeat: op names, "llama_decode"). */
  #quoted(name: string): string {
    let q = this.#names.get(name);
    if (q === undefined) this.#names.set(name, (q = JSON.stringify(name)));
    return q;
  }

  process(p: ProcessTrack): void {
    this.#event(
      `{"ph":"M","name":"process_name","pid":${p.pid},"tid":0,"args":{"name":${JSON.stringify(p.name)}}}`,
    );
  }

  thread(t: ThreadTrack): void {
    this.#event(
      `{"ph":"M","name":"thread_name","pid":${t.pid},"tid":${t.tid},"args":{"name":${JSON.stringify(t.name || `thread ${t.tid}`)}}}`,
    );
  }

  counterTrack(c: CounterTrack): void {
    // Counter events belong to a process: a per-thread counter's name says its thread.
    this.#counterNames.set(c.id, { name: c.tid === undefined ? c.name : `${c.name} (tid ${c.tid})`, pid: c.pid ?? 0 });
  }

  sliceTrack(t: ProcessSliceTrack): void {
    const tid = PSEUDO_TID_BASE + Math.max(0, t.rank) + (t.rank < 0 ? 2 ** 20 : 0);
    this.#sliceTracks.set(t.id, { pid: t.pid, tid });
    this.#event(`{"ph":"M","name":"thread_name","pid":${t.pid},"tid":${tid},"args":{"name":${JSON.stringify(t.name)}}}`);
    this.#event(`{"ph":"M","name":"thread_sort_index","pid":${t.pid},"tid":${tid},"args":{"sort_index":${tid}}}`);
  }

  trackSlices(trackId: string, slices: readonly Slice[]): void {
    const t = this.#sliceTracks.get(trackId);
    if (t === undefined) throw new Error(`json export: slice track ${trackId} used before its descriptor`);
    this.slices(t.pid, t.tid, slices);
  }

  counter(trackId: string, ts: number, value: number): void {
    const c = this.#counterNames.get(trackId);
    if (c === undefined) throw new Error(`json export: counter track ${trackId} used before its descriptor`);
    this.#event(
      `{"ph":"C","name":${JSON.stringify(c.name)},"pid":${c.pid},"ts":${this.#ts(ts)},"args":{"value":${JSON.stringify(value)}}}`,
    );
  }

  slices(pid: number, tid: number, slices: readonly Slice[]): void {
    for (const s of slices) {
      this.stats.slices++;
      let fixed = '';
      if (s.fixed !== undefined) {
        const cached = this.#fixed.get(s.fixed);
        fixed = cached ?? argsJson(s.fixed);
        if (cached === undefined) this.#fixed.set(s.fixed, fixed);
      }
      let rest = argsJson(s.args);
      if (s.shared !== undefined) {
        if (s.shared !== this.#lastShared) {
          this.#lastShared = s.shared;
          this.#lastSharedJson = argsJson(s.shared);
        }
        rest = rest ? `${rest},${this.#lastSharedJson}` : this.#lastSharedJson;
      }
      const args = fixed && rest ? `${fixed},${rest}` : fixed || rest;
      this.#event(
        `{"ph":"X","cat":"${s.kind}","name":${this.#quoted(s.name)},"pid":${pid},"tid":${tid},` +
          `"ts":${this.#ts(s.start)},"dur":${microsNum(s.end - s.start)},"args":{${args}}}`,
      );
      // Flow events bind to the enclosing X slice at their ts ("bp":"e" for the end).
      for (const id of s.flowOut ?? [])
        this.#event(`{"ph":"s","cat":"dag","name":"dag edge","id":${id},"pid":${pid},"tid":${tid},"ts":${this.#ts(s.start)}}`);
      for (const id of s.flowIn ?? [])
        this.#event(`{"ph":"f","bp":"e","cat":"dag","name":"dag edge","id":${id},"pid":${pid},"tid":${tid},"ts":${this.#ts(s.start)}}`);
    }
  }

  take(): string[] {
    return this.#chunks.splice(0);
  }

  finish(): void {
    this.#emit('\n]}\n');
    this.#cut();
  }
}

/** Streams Chrome JSON text: chunks that, concatenated, are one JSON document. */
export function exportChromeJson(
  packets: AsyncIterable<v1.ITracePacket> | Iterable<v1.ITracePacket>,
  stats?: (s: ChromeJsonStats) => void,
  options: TimelineOptions = {},
): AsyncGenerator<string, void, undefined> {
  return streamTimeline(packets, (origin) => new ChromeJsonWriter(origin), options, stats);
}

/** The whole Chrome JSON text of packets held in memory (tests, small traces). */
export function toChromeJson(
  packets: Iterable<v1.ITracePacket>,
  options: TimelineOptions = {},
): { text: string; stats: ChromeJsonStats } {
  const { chunks, stats } = runTimeline(packets, (origin) => new ChromeJsonWriter(origin), options);
  return { text: chunks.join(''), stats };
}
