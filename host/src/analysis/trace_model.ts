// trace_model.ts: a whole trace as columns, for the analyses (dag.ts,
// stats.ts, roofline.ts). Built packet by packet (TraceModelBuilder.add), so a
// file is streamed and never held as packet objects.
//
// Node rows are the bulk of a trace. Their packets (TracePacket.node_events,
// NodeEventBatch) are decoded here by a small varint reader over the raw
// packet bytes, straight into typed arrays: protobufjs would allocate a Long
// per 64-bit value. Every other packet goes through protobufjs (proto.ts).
//
// Times: ns relative to `baseNs` (the first timestamp seen), as float64,
// exact below 2^53 ns (104 days of trace).
import { longToBigInt, TracePacket, type v1 } from '../proto.js';
import type { RawPacket } from '../decode/stream_reader.js';

/** A packet's bytes cannot be decoded. */
export class TraceModelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** Growable typed-array column; `trim()` gives the exact-length array. */
class Column<T extends Float64Array | Uint32Array | Uint16Array | Int32Array> {
  length = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = v;
  }
  /** Room for `n` more values. */
  reserve(n: number): T {
    if (this.length + n > this.data.length) this.grow(this.length + n);
    return this.data;
  }
  private grow(min: number): void {
    // 1.5x growth: the peak while building stays near 1.5x the final size.
    const next = this.make(Math.max(min, Math.ceil(this.data.length * 1.5), 1024));
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
  trim(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

const f64 = (n: number) => new Float64Array(n);
const u32 = (n: number) => new Uint32Array(n);
const u16 = (n: number) => new Uint16Array(n);

/** The node rows of a trace: one per executed unit per thread. */
export interface NodeRows {
  readonly length: number;
  /** Row of `graphs` this node row belongs to. */
  readonly graph: Uint32Array;
  /** Row of `threads`. */
  readonly thread: Uint16Array;
  /** Node index in the graph (its GraphStructure.nodes index). */
  readonly node: Uint32Array;
  /** Extra nodes computed by the same fused kernel. */
  readonly fused: Uint16Array;
  /** Start, relative to `baseNs`. */
  readonly start: Float64Array;
  readonly compute: Float64Array;
  readonly barrier: Float64Array;
}

export interface TokenRow {
  readonly seq: number;
  readonly pid: number;
  readonly tid: number;
  readonly start: number;
  readonly duration: number;
  readonly nTokens: number;
  readonly contextId: string;
  readonly result: number;
  readonly nodeLevel: boolean;
}

export interface GraphRow {
  /** GraphEvent.graph_id (0 until the GraphEvent is seen). */
  id: number;
  pid: number;
  tid: number;
  start: number;
  duration: number;
  nNodes: number;
  /** Key of `structures`; "0": none. */
  structureId: string;
  nThreads: number;
  backend: string;
  /** Whether the GraphEvent itself was seen (node batches may come alone). */
  seen: boolean;
}

export interface ThreadRow {
  readonly pid: number;
  readonly tid: number;
  /** ggml compute thread index (ith) of its first batch. */
  readonly ith: number;
}

export interface TraceModel {
  /** Absolute CLOCK_MONOTONIC ns of time 0. */
  readonly baseNs: bigint;
  readonly session: v1.ISessionInfo | undefined;
  readonly end: v1.ISessionEnd | undefined;
  readonly loss: v1.ILossStats | undefined;
  readonly engines: ReadonlyMap<number, v1.IEngineInfo>;
  readonly strings: ReadonlyMap<number, string>;
  readonly structures: ReadonlyMap<string, v1.IGraphStructure>;
  readonly tokens: readonly TokenRow[];
  readonly graphs: readonly GraphRow[];
  readonly threads: readonly ThreadRow[];
  readonly nodes: NodeRows;
  /**
   * Per-row counter deltas (NodeEventBatch.counters) by CounterDescriptor
   * counter_id, aligned with `nodes`; NaN where a row has no value. Absent
   * counters cost nothing.
   */
  readonly counterColumns: ReadonlyMap<number, Float64Array>;
  /**
   * Counter ids whose deltas run from the thread's previous barrier entry
   * (CounterColumn.includes_previous_barrier: one probe per node), so cover
   * the previous row's barrier plus the row's compute; others cover compute.
   */
  readonly counterIncludesPreviousBarrier: ReadonlySet<number>;
  readonly experts: readonly v1.IExpertRouting[];
  /** Calls of backend probe specs (non-CPU per-node functions), as decoded. */
  readonly backendNodes: readonly v1.IBackendNodeEvent[];
  readonly counters: readonly v1.ICounterDescriptor[];
  /** Scheduler batches (record --sched), as decoded; analysis/sched.ts reads them. */
  readonly schedSwitch: readonly v1.ISchedSwitchBatch[];
  readonly schedWakeup: readonly v1.ISchedWakeupBatch[];
  /** ThreadInfo by tid (names, and which process a thread belongs to). */
  readonly threadInfo: ReadonlyMap<number, v1.IThreadInfo>;
  /** The reader stopped at damage; what is here is everything before it. */
  readonly truncated: boolean;
  readonly packets: number;
}

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/**
 * Minimal protobuf reader over one packet's bytes: only what NodeEventBatch
 * needs. Varints up to 2^53 are exact (larger ones lose low bits: no ns
 * duration or id reaches them).
 */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos++] as number;
    if (b < 0x80) return b;
    let v = b & 0x7f;
    b = buf[this.pos++] as number;
    v |= (b & 0x7f) << 7;
    if (b < 0x80) return v;
    b = buf[this.pos++] as number;
    v |= (b & 0x7f) << 14;
    if (b < 0x80) return v;
    b = buf[this.pos++] as number;
    v |= (b & 0x7f) << 21;
    if (b < 0x80) return v >>> 0;
    // Past 28 bits: arithmetic, not bit operations.
    let mul = 2 ** 28;
    for (let i = 4; i < 10; i++) {
      if (this.pos >= this.end) throw new TraceModelError('varint runs past the end of its message');
      b = buf[this.pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw new TraceModelError('varint longer than 10 bytes');
  }
  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.pos += 8;
        return;
      case LEN: {
        const len = this.varint(); // before reading pos: varint() moves it
        this.pos += len;
        return;
      }
      case I32:
        this.pos += 4;
        return;
      default:
        throw new TraceModelError(`unknown wire type ${wireType}`);
    }
  }
  check(): void {
    if (this.pos > this.end) throw new TraceModelError('field runs past the end of its message');
  }
}

/** Per-batch scratch columns, reused across batches. */
class Scratch {
  delta = new Float64Array(256);
  compute = new Float64Array(256);
  barrier = new Float64Array(256);
  fused = new Float64Array(256);
  nDelta = 0;
  nCompute = 0;
  nBarrier = 0;
  nFused = 0;
  /** counter_id -> deltas of this batch. */
  readonly counters = new Map<number, number[]>();
  reset(): void {
    this.nDelta = this.nCompute = this.nBarrier = this.nFused = 0;
    this.counters.clear();
  }
}

type ScratchColumn = 'delta' | 'compute' | 'barrier' | 'fused';
const COUNT_OF = { delta: 'nDelta', compute: 'nCompute', barrier: 'nBarrier', fused: 'nFused' } as const;

export class TraceModelBuilder {
  #base: bigint | undefined;
  #session: v1.ISessionInfo | undefined;
  #end: v1.ISessionEnd | undefined;
  #loss: v1.ILossStats | undefined;
  readonly #engines = new Map<number, v1.IEngineInfo>();
  readonly #strings = new Map<number, string>();
  readonly #structures = new Map<string, v1.IGraphStructure>();
  readonly #tokens: TokenRow[] = [];
  readonly #graphs: GraphRow[] = [];
  readonly #graphById = new Map<number, number>();
  readonly #threads: ThreadRow[] = [];
  readonly #threadByKey = new Map<number, number>();
  readonly #experts: v1.IExpertRouting[] = [];
  readonly #backendNodes: v1.IBackendNodeEvent[] = [];
  readonly #counters: v1.ICounterDescriptor[] = [];
  readonly #schedSwitch: v1.ISchedSwitchBatch[] = [];
  readonly #schedWakeup: v1.ISchedWakeupBatch[] = [];
  readonly #threadInfo = new Map<number, v1.IThreadInfo>();
  readonly #nodeGraph = new Column(u32(0), u32);
  readonly #nodeThread = new Column(u16(0), u16);
  readonly #nodeIndex = new Column(u32(0), u32);
  readonly #nodeFused = new Column(u16(0), u16);
  readonly #nodeStart = new Column(f64(0), f64);
  readonly #nodeCompute = new Column(f64(0), f64);
  readonly #nodeBarrier = new Column(f64(0), f64);
  readonly #scratch = new Scratch();
  readonly #counterCols = new Map<number, Column<Float64Array>>();
  readonly #counterSpansBarrier = new Set<number>();
  #packets = 0;
  truncated = false;

  /** Adds one packet (from stream_reader.ts). */
  add(raw: RawPacket): void {
    this.addBytes(raw.bytes, raw.index, raw.offset);
  }

  addBytes(bytes: Uint8Array, index = this.#packets, offset = 0): void {
    this.#packets++;
    try {
      // TracePacket.node_events is field 1, length-delimited: tag 0x0a.
      if (bytes.length > 0 && bytes[0] === 0x0a) {
        const r = new Reader(bytes, 1, bytes.length);
        const len = r.varint();
        if (r.pos + len === bytes.length) {
          this.#addNodeBatch(new Reader(bytes, r.pos, r.pos + len));
          return;
        }
      }
      this.addPacket(TracePacket.decode(bytes));
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new TraceModelError(`packet ${index} at byte ${offset} is not a valid TracePacket: ${why}`, { cause });
    }
  }

  /** Adds a packet decoded by protobufjs (also the path for hand-built packets). */
  addPacket(p: v1.ITracePacket): void {
    if (p.nodeEvents) this.#addNodeBatchDecoded(p.nodeEvents);
    else if (p.token) this.#addToken(p.token);
    else if (p.graph) this.#addGraph(p.graph);
    else if (p.interned) for (const s of p.interned.strings ?? []) this.#strings.set(s.iid ?? 0, s.str ?? '');
    else if (p.graphStructure) this.#structures.set(longToBigInt(p.graphStructure.structureId).toString(), p.graphStructure);
    else if (p.engine) this.#engines.set(p.engine.pid ?? 0, p.engine);
    else if (p.session) this.#session = p.session;
    else if (p.expertRouting) this.#experts.push(p.expertRouting);
    else if (p.backendNode) this.#backendNodes.push(p.backendNode);
    else if (p.counter) this.#counters.push(p.counter);
    else if (p.loss) this.#loss = p.loss;
    else if (p.sessionEnd) this.#end = p.sessionEnd;
    else if (p.schedSwitch) {
      this.#rel(longToBigInt(p.schedSwitch.baseTsNs)); // the base is the first time seen
      this.#schedSwitch.push(p.schedSwitch);
    } else if (p.schedWakeup) {
      this.#rel(longToBigInt(p.schedWakeup.baseTsNs));
      this.#schedWakeup.push(p.schedWakeup);
    } else if (p.thread) this.#threadInfo.set(p.thread.tid ?? 0, p.thread);
  }

  #rel(abs: bigint): number {
    if (this.#base === undefined) this.#base = abs;
    return Number(abs - this.#base);
  }

  /** Relative time of an absolute ns value given as a (possibly inexact above 2^53) number. */
  #relNumber(abs: number): number {
    if (this.#base === undefined) this.#base = BigInt(abs);
    return abs - Number(this.#base);
  }

  #graphRow(id: number): number {
    let row = this.#graphById.get(id);
    if (row === undefined) {
      row = this.#graphs.length;
      this.#graphById.set(id, row);
      this.#graphs.push({
        id,
        pid: 0,
        tid: 0,
        start: 0,
        duration: 0,
        nNodes: 0,
        structureId: '0',
        nThreads: 0,
        backend: '',
        seen: false,
      });
    }
    return row;
  }

  #threadRow(pid: number, tid: number, ith: number): number {
    // tids are unique per host at one time; the key is the tid.
    let row = this.#threadByKey.get(tid);
    if (row === undefined) {
      row = this.#threads.length;
      this.#threadByKey.set(tid, row);
      this.#threads.push({ pid, tid, ith });
    }
    return row;
  }

  #addToken(t: v1.ITokenEvent): void {
    this.#tokens.push({
      seq: Number(longToBigInt(t.seq)),
      pid: t.pid ?? 0,
      tid: t.tid ?? 0,
      start: this.#rel(longToBigInt(t.startNs)),
      duration: Number(longToBigInt(t.durationNs)),
      nTokens: t.nTokens ?? 0,
      contextId: '0x' + longToBigInt(t.contextId).toString(16),
      result: t.result ?? 0,
      nodeLevel: t.nodeLevel ?? false,
    });
  }

  #addGraph(g: v1.IGraphEvent): void {
    const row = this.#graphs[this.#graphRow(Number(longToBigInt(g.graphId)))] as GraphRow;
    row.pid = g.pid ?? 0;
    row.tid = g.tid ?? 0;
    row.start = this.#rel(longToBigInt(g.startNs));
    row.duration = Number(longToBigInt(g.durationNs));
    row.nNodes = g.nNodes ?? 0;
    row.structureId = longToBigInt(g.structureId).toString();
    row.nThreads = g.nThreads ?? 0;
    row.backend = this.#strings.get(g.backendIid ?? 0) ?? '';
    row.seen = true;
  }

  #addNodeBatch(r: Reader): void {
    const s = this.#scratch;
    s.reset();
    let pid = 0;
    let tid = 0;
    let graphId = 0;
    let start = 0;
    let ith = 0;
    while (r.pos < r.end) {
      const tag = r.varint();
      const field = tag >>> 3;
      const wt = tag & 7;
      switch (field) {
        case 1:
          if (wt !== VARINT) break;
          pid = r.varint();
          continue;
        case 2:
          if (wt !== VARINT) break;
          tid = r.varint();
          continue;
        case 3:
          if (wt !== VARINT) break;
          graphId = r.varint();
          continue;
        case 4:
          if (wt !== VARINT) break;
          start = r.varint();
          continue;
        case 5:
          this.#column(r, wt, 'delta');
          continue;
        case 6:
          this.#column(r, wt, 'compute');
          continue;
        case 7:
          this.#column(r, wt, 'barrier');
          continue;
        case 8:
          this.#column(r, wt, 'fused');
          continue;
        case 9:
          if (wt !== LEN) break;
          this.#counterColumn(r);
          continue;
        case 10:
          if (wt !== VARINT) break;
          ith = r.varint();
          continue;
        default:
          break;
      }
      r.skip(wt); // unknown fields, unexpected wire types
      r.check();
    }
    if (r.pos !== r.end) throw new TraceModelError('NodeEventBatch field runs past the end of the packet');
    this.#appendRows(pid, tid, graphId, this.#relNumber(start), ith);
  }

  /**
   * One CounterColumn { counter_id = 1; repeated uint64 delta = 2;
   * repeated uint32 unmeasured_row = 3; bool includes_previous_barrier = 4; }.
   */
  #counterColumn(r: Reader): void {
    const len = r.varint();
    const end = r.pos + len;
    if (end > r.end) throw new TraceModelError('CounterColumn runs past the end of the packet');
    const sub = new Reader(r.buf, r.pos, end);
    let id = 0;
    let spansBarrier = false;
    const values: number[] = [];
    const unmeasured: number[] = [];
    while (sub.pos < end) {
      const tag = sub.varint();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1 && wt === VARINT) id = sub.varint();
      else if ((field === 2 || field === 3) && wt === VARINT) (field === 2 ? values : unmeasured).push(sub.varint());
      else if ((field === 2 || field === 3) && wt === LEN) {
        const what = field === 2 ? 'delta' : 'unmeasured_row';
        const vLen = sub.varint();
        const vEnd = sub.pos + vLen;
        if (vEnd > end) throw new TraceModelError(`CounterColumn.${what} runs past the end of its message`);
        const into = field === 2 ? values : unmeasured;
        while (sub.pos < vEnd) into.push(sub.varint());
        if (sub.pos !== vEnd) throw new TraceModelError(`CounterColumn.${what} ends inside a varint`);
      } else if (field === 4 && wt === VARINT) spansBarrier = sub.varint() !== 0;
      else sub.skip(wt);
      sub.check();
    }
    if (sub.pos !== end) throw new TraceModelError('CounterColumn field runs past the end of its message');
    r.pos = end;
    this.#addCounterValues(id, withUnmeasured(values, unmeasured), spansBarrier);
  }

  #addCounterValues(id: number, rows: number[], spansBarrier: boolean): void {
    if (spansBarrier) this.#counterSpansBarrier.add(id);
    const prev = this.#scratch.counters.get(id);
    this.#scratch.counters.set(id, prev ? prev.concat(rows) : rows);
  }

  #column(r: Reader, wt: number, col: ScratchColumn): void {
    const s = this.#scratch;
    const countKey = COUNT_OF[col];
    if (wt === VARINT) {
      this.#scratchPush(col, countKey, r.varint());
      return;
    }
    if (wt !== LEN) {
      r.skip(wt);
      return;
    }
    const len = r.varint();
    const end = r.pos + len;
    if (end > r.end) throw new TraceModelError('packed column runs past the end of the packet');
    // At most `len` values: make room once.
    if (s[countKey] + len > s[col].length) {
      const next = new Float64Array(Math.max(s[countKey] + len, s[col].length * 2));
      next.set(s[col].subarray(0, s[countKey]));
      s[col] = next;
    }
    const arr = s[col];
    let n = s[countKey];
    const buf = r.buf;
    // Inline fast path for 1- and 2-byte varints (most values).
    while (r.pos < end) {
      const b0 = buf[r.pos] as number;
      if (b0 < 0x80) {
        arr[n++] = b0;
        r.pos++;
        continue;
      }
      const b1 = buf[r.pos + 1] as number;
      if (b1 < 0x80) {
        arr[n++] = (b0 & 0x7f) | (b1 << 7);
        r.pos += 2;
        continue;
      }
      arr[n++] = r.varint();
    }
    if (r.pos !== end) throw new TraceModelError('packed column ends inside a varint');
    s[countKey] = n;
  }

  #scratchPush(col: ScratchColumn, countKey: (typeof COUNT_OF)[ScratchColumn], v: number): void {
    const s = this.#scratch;
    if (s[countKey] === s[col].length) {
      const next = new Float64Array(s[col].length * 2);
      next.set(s[col]);
      s[col] = next;
    }
    s[col][s[countKey]++] = v;
  }

  #addNodeBatchDecoded(b: v1.INodeEventBatch): void {
    const s = this.#scratch;
    s.reset();
    for (const v of b.nodeIndexDelta ?? []) this.#scratchPush('delta', 'nDelta', v);
    for (const v of b.computeNs ?? []) this.#scratchPush('compute', 'nCompute', Number(longToBigInt(v)));
    for (const v of b.barrierNs ?? []) this.#scratchPush('barrier', 'nBarrier', Number(longToBigInt(v)));
    for (const v of b.fused ?? []) this.#scratchPush('fused', 'nFused', v);
    for (const c of b.counters ?? []) {
      const values = (c.delta ?? []).map((v) => Number(longToBigInt(v)));
      this.#addCounterValues(c.counterId ?? 0, withUnmeasured(values, c.unmeasuredRow ?? []), c.includesPreviousBarrier ?? false);
    }
    this.#appendRows(
      b.pid ?? 0,
      b.tid ?? 0,
      Number(longToBigInt(b.graphId)),
      this.#rel(longToBigInt(b.startNs)),
      b.threadIndex ?? 0,
    );
  }

  #appendRows(pid: number, tid: number, graphId: number, start: number, ith: number): void {
    const s = this.#scratch;
    const n = s.nDelta;
    if (s.nCompute !== n || s.nBarrier !== n || (s.nFused !== 0 && s.nFused !== n)) {
      throw new TraceModelError(
        `NodeEventBatch columns differ in length: node_index_delta ${n}, compute_ns ${s.nCompute}, ` +
          `barrier_ns ${s.nBarrier}, fused ${s.nFused}`,
      );
    }
    for (const [id, values] of s.counters) {
      if (values.length !== n)
        throw new TraceModelError(`NodeEventBatch counter ${id} has ${values.length} deltas for ${n} rows`);
    }
    if (n === 0) return;
    const g = this.#graphRow(graphId);
    const th = this.#threadRow(pid, tid, ith);
    const base = this.#nodeGraph.length;
    const graphCol = this.#nodeGraph.reserve(n);
    const threadCol = this.#nodeThread.reserve(n);
    const indexCol = this.#nodeIndex.reserve(n);
    const fusedCol = this.#nodeFused.reserve(n);
    const startCol = this.#nodeStart.reserve(n);
    const computeCol = this.#nodeCompute.reserve(n);
    const barrierCol = this.#nodeBarrier.reserve(n);
    const { delta, compute, barrier, fused } = s;
    const hasFused = s.nFused === n;
    let index = 0;
    let t = start;
    for (let i = 0; i < n; i++) {
      const j = base + i;
      index = (index + (delta[i] as number)) >>> 0;
      const c = compute[i] as number;
      const w = barrier[i] as number;
      graphCol[j] = g;
      threadCol[j] = th;
      indexCol[j] = index;
      fusedCol[j] = hasFused ? (fused[i] as number) : 0;
      startCol[j] = t;
      computeCol[j] = c;
      barrierCol[j] = w;
      t += c + w;
    }
    for (const [id, values] of s.counters) {
      let col = this.#counterCols.get(id);
      if (col === undefined) this.#counterCols.set(id, (col = new Column(f64(0), f64)));
      const arr = col.reserve(base + n - col.length);
      arr.fill(NaN, col.length, base); // rows before, without this counter
      arr.set(values, base);
      col.length = base + n;
    }
    const length = base + n;
    this.#nodeGraph.length = length;
    this.#nodeThread.length = length;
    this.#nodeIndex.length = length;
    this.#nodeFused.length = length;
    this.#nodeStart.length = length;
    this.#nodeCompute.length = length;
    this.#nodeBarrier.length = length;
  }

  build(): TraceModel {
    return {
      baseNs: this.#base ?? 0n,
      session: this.#session,
      end: this.#end,
      loss: this.#loss,
      engines: this.#engines,
      strings: this.#strings,
      structures: this.#structures,
      tokens: [...this.#tokens].sort((a, b) => a.seq - b.seq || a.start - b.start),
      graphs: this.#graphs,
      threads: this.#threads,
      nodes: {
        length: this.#nodeGraph.length,
        graph: this.#nodeGraph.trim(),
        thread: this.#nodeThread.trim(),
        node: this.#nodeIndex.trim(),
        fused: this.#nodeFused.trim(),
        start: this.#nodeStart.trim(),
        compute: this.#nodeCompute.trim(),
        barrier: this.#nodeBarrier.trim(),
      },
      counterColumns: new Map(
        [...this.#counterCols].map(([id, col]) => {
          const arr = col.reserve(this.#nodeGraph.length - col.length);
          arr.fill(NaN, col.length, this.#nodeGraph.length);
          col.length = this.#nodeGraph.length;
          return [id, col.trim()];
        }),
      ),
      counterIncludesPreviousBarrier: this.#counterSpansBarrier,
      experts: this.#experts,
      backendNodes: this.#backendNodes,
      counters: this.#counters,
      schedSwitch: this.#schedSwitch,
      schedWakeup: this.#schedWakeup,
      threadInfo: this.#threadInfo,
      truncated: this.truncated || this.#end === undefined,
      packets: this.#packets,
    };
  }
}

/**
 * One value per row from a column's measured deltas and its unmeasured rows
 * (ascending indexes): NaN at those, never a made-up number.
 */
function withUnmeasured(values: number[], unmeasured: readonly number[]): number[] {
  if (unmeasured.length === 0) return values;
  const n = values.length + unmeasured.length;
  const rows = new Array<number>(n);
  let v = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (m < unmeasured.length && unmeasured[m] === i) {
      rows[i] = NaN;
      m++;
    } else rows[i] = values[v++] as number;
  }
  if (m !== unmeasured.length)
    throw new TraceModelError('CounterColumn.unmeasured_row is not ascending or names a row past the batch');
  return rows;
}

/** Bytes held per node row by the model's columns. */
export const BYTES_PER_NODE_ROW =
  Uint32Array.BYTES_PER_ELEMENT * 2 + Uint16Array.BYTES_PER_ELEMENT * 2 + Float64Array.BYTES_PER_ELEMENT * 3;

/** Builds the model of a whole trace held in memory (tests, small files). */
export function traceModelFromPackets(packets: Iterable<RawPacket>): TraceModel {
  const b = new TraceModelBuilder();
  for (const p of packets) b.add(p);
  return b.build();
}
