// timeline.ts: ProfInfer packets to a timeline of tracks, slices and counters,
// the model both exporters draw (perfetto.ts: native protobuf, chrome_json.ts:
// legacy JSON). Pure and streaming: packets go in one at a time, and the
// timeline calls its sink as soon as a part of the picture is final.
//
// What waits, and why: the collector writes a graph's NodeEventBatch packets
// before its GraphEvent (which names the GraphStructure the node indices refer
// to), and a llama_decode's graphs before its TokenEvent. So node batches wait
// for their graph, and a process's slices wait for the next token of that
// process; memory holds one decode call, never the trace. At that point every
// track's slices are sorted (start ascending, longer first), so a sink can nest
// them with a stack.
//
// MoE routings wait with their graph too (a routing's slice ends when its
// MUL_MAT_ID node ends), and go out with the process's thread slices, one
// track per layer. Per-node counters become per-thread counter tracks (rates).
// New kinds of data become new sink calls or counter tracks: add a case to
// add(), keep the sink interface small.
import { counterColumnRows } from '../analysis/counters.js';
import { EventKind, longToBigInt, longToSignedBigInt, type v1 } from '../proto.js';

/** Trace timestamps within this stay exact as numbers (about 52 days of uptime). */
const EXACT_NS = 2 ** 52;

/** Which level of the token ⊃ graph ⊃ node nesting a slice is. */
export type SliceKind = 'token' | 'graph' | 'node' | 'expert';

/**
 * Slice arguments as a flat list: key, value, key, value... (one allocation
 * per slice). Values are strings, numbers (integers unless the key says
 * otherwise) or booleans.
 */
export type FlatArgs = readonly (string | number | boolean)[];

export interface Slice {
  readonly kind: SliceKind;
  readonly name: string;
  /** ns since Timeline.originNs. */
  readonly start: number;
  /** ns since Timeline.originNs; >= start. */
  readonly end: number;
  /**
   * Arguments shared by many slices (a graph node's op, type, shape, name...):
   * the same array object each time, so a sink may cache its encoding by identity.
   */
  readonly fixed?: FlatArgs;
  /**
   * Arguments shared by the slices of one node batch (graph_id, thread_index):
   * the same array object for each, so a sink may reuse its encoding.
   */
  readonly shared?: FlatArgs;
  readonly args: FlatArgs;
  /** Flow ids that start at this slice (DAG edges to the nodes using its output). */
  flowOut?: number[];
  /** Flow ids that end at this slice (DAG edges from the nodes producing its inputs). */
  flowIn?: number[];
}

export interface TimelineOptions {
  /**
   * Draw the DAG edges of the llama_decode call with this seq as flows between
   * the node slices of its calling thread (none when undefined).
   */
  readonly flowsForSeq?: number;
}

export interface ProcessTrack {
  readonly pid: number;
  readonly name: string;
  readonly cmdline: readonly string[];
}

export interface ThreadTrack {
  readonly pid: number;
  readonly tid: number;
  readonly name: string;
}

export interface CounterTrack {
  /** Unique within the timeline. */
  readonly id: string;
  /** The process the counter belongs to; undefined: the whole session. */
  readonly pid: number | undefined;
  /** The thread it belongs to (per-thread counters; its thread track is described first). */
  readonly tid?: number;
  readonly name: string;
  readonly unit: string;
}

/**
 * A slice track under a process that is not a thread: one per MoE layer
 * ("MoE layer 3"), with one slice per ExpertRouting of that layer.
 */
export interface ProcessSliceTrack {
  /** Unique within the timeline. */
  readonly id: string;
  readonly pid: number;
  readonly name: string;
  /** Where it sorts among its siblings (the layer). */
  readonly rank: number;
}

/** What a timeline draws on. Calls come in this order per track: the track, then its data. */
export interface TimelineSink {
  process(p: ProcessTrack): void;
  /** May be called again for a thread whose name became known later. */
  thread(t: ThreadTrack): void;
  counterTrack(c: CounterTrack): void;
  /** One thread's slices, sorted by start (ties: longer first). Later calls start no earlier. */
  slices(pid: number, tid: number, slices: readonly Slice[]): void;
  sliceTrack(t: ProcessSliceTrack): void;
  /** Slices of a ProcessSliceTrack, in the same order as slices(). */
  trackSlices(trackId: string, slices: readonly Slice[]): void;
  counter(trackId: string, ts: number, value: number): void;
}

/** A node slice's place in its graph, kept only while flows may be drawn for it. */
interface NodeRef {
  readonly structure: Structure;
  readonly index: number;
}

export interface TimelineStats {
  packets: number;
  tokens: number;
  graphs: number;
  nodeEvents: number;
  /** Node batches whose GraphEvent never came (cut trace): drawn without op names. */
  orphanBatches: number;
  /** ExpertRouting packets drawn (one slice each on their layer's track). */
  expertRoutings: number;
  /** Routings whose GraphEvent never came: drawn at their own time, with no duration. */
  orphanRoutings: number;
  /** Routings whose expert_ids do not hold n_tokens x n_expert_used ids: drawn, flagged `malformed`. */
  malformedRoutings: number;
  /** Counter rows drawn on per-thread counter tracks, and rows not drawn (unmeasured, or no duration). */
  counterSamples: number;
  counterRowsUnmeasured: number;
}

interface NodeMeta {
  readonly backend: string;
  /** The fixed arguments of this node's slices. */
  readonly fixed: FlatArgs;
  readonly op: string;
  readonly type: string;
  readonly shape: string;
  readonly tensor: string;
  /** From the tensor name ("Qcur-3", "blk.3.attn_q"); -1 when it names none. */
  readonly layer: number;
  /** A MUL_MAT_ID node: ExpertRouting packets name it, and their slices take its end. */
  readonly moe: boolean;
}

interface Structure {
  readonly pid: number;
  readonly nodes: readonly v1.IGraphNode[];
  /** Resolved lazily: engine and interned strings may arrive after the structure. */
  meta: (NodeMeta | undefined)[];
  /** tensor id -> index of the node producing it; built when flows need it. */
  producers?: Map<bigint, number>;
}

const num = (v: Parameters<typeof longToBigInt>[0]): number =>
  v === null || v === undefined ? 0 : typeof v === 'number' ? v : (v.high >>> 0) * 4294967296 + (v.low >>> 0);

const key = (pid: number, id: Parameters<typeof longToBigInt>[0]): string => `${pid}:${longToBigInt(id)}`;

export class Timeline {
  /** Every slice and counter time is ns after this CLOCK_MONOTONIC instant. */
  originNs: bigint | undefined;
  readonly stats: TimelineStats = {
    packets: 0, tokens: 0, graphs: 0, nodeEvents: 0, orphanBatches: 0,
    expertRoutings: 0, orphanRoutings: 0, malformedRoutings: 0, counterSamples: 0, counterRowsUnmeasured: 0,
  };

  readonly #sink: TimelineSink;
  readonly #strings = new Map<number, string>();
  readonly #engines = new Map<number, v1.IEngineInfo>();
  readonly #structures = new Map<string, Structure>();
  readonly #counterNames = new Map<number, string>();
  readonly #processes = new Map<number, ProcessTrack>();
  readonly #threads = new Map<string, ThreadTrack>();
  readonly #threadNames = new Map<string, string>();
  readonly #counterTracks = new Set<string>();
  /** graph key -> node batches waiting for their GraphEvent. */
  readonly #batches = new Map<string, v1.INodeEventBatch[]>();
  /** pid -> tid -> slices waiting for the process's next token. */
  readonly #pending = new Map<number, Map<number, PendingThread>>();
  /** graph key -> ExpertRouting packets waiting for their GraphEvent (their node's end). */
  readonly #routings = new Map<string, v1.IExpertRouting[]>();
  /**
   * pid -> graph key -> MUL_MAT_ID node index -> latest end on any thread, for
   * the routings that follow their GraphEvent (the collector writes them after
   * it, before the TokenEvent); kept until the process's next token.
   */
  readonly #moeNodeEnds = new Map<number, Map<string, Map<number, number>>>();
  /** pid -> layer -> routing slices waiting for the process's next token. */
  readonly #pendingExperts = new Map<number, Map<number, Slice[]>>();
  readonly #sliceTracks = new Set<string>();
  #lastLost = -1;

  readonly #flowsForSeq: number | undefined;
  readonly #nodeRefs = new WeakMap<Slice, NodeRef>();
  #lastFlowId = 0;

  constructor(sink: TimelineSink, options: TimelineOptions = {}) {
    this.#sink = sink;
    this.#flowsForSeq = options.flowsForSeq;
  }

  add(p: v1.ITracePacket): void {
    this.stats.packets++;
    if (p.nodeEvents) this.#addBatch(p.nodeEvents);
    else if (p.graph) this.#addGraph(p.graph);
    else if (p.backendNode) this.#addBackendNode(p.backendNode);
    else if (p.token) this.#addToken(p.token);
    else if (p.interned) for (const s of p.interned.strings ?? []) this.#strings.set(s.iid ?? 0, s.str ?? '');
    else if (p.graphStructure) this.#addStructure(p.graphStructure);
    else if (p.engine) this.#engines.set(p.engine.pid ?? 0, p.engine);
    else if (p.session) {
      const clock = longToBigInt(p.session.clockMonotonicNs);
      if (clock !== 0n) this.#origin(clock);
    }
    else if (p.process) this.#addProcess(p.process);
    else if (p.thread) this.#addThread(p.thread);
    else if (p.counter) this.#counterNames.set(p.counter.counterId ?? 0, p.counter.name ?? '');
    else if (p.expertRouting) this.#addRouting(p.expertRouting);
    else if (p.qos) this.#addQos(p.qos);
    else if (p.levelChange) this.#addLevel(longToBigInt(p.levelChange.tsNs), p.levelChange.toLevel ?? 0);
    else if (p.loss) this.#addLoss(p.loss);
    else if (p.sessionEnd) {
      if (p.sessionEnd.totals) this.#addLoss(p.sessionEnd.totals);
    }
    // sched_switch / sched_wakeup: sched_ftrace.ts.
  }

  /** End of stream: draws whatever still waits (a cut trace's last call). */
  finish(): void {
    for (const batches of this.#batches.values()) {
      this.stats.orphanBatches += batches.length;
      for (const b of batches) this.#batchSlices(b, undefined, '');
    }
    this.#batches.clear();
    for (const routings of this.#routings.values()) {
      this.stats.orphanRoutings += routings.length;
      this.#routingSlices(routings, undefined);
    }
    this.#routings.clear();
    for (const pid of new Set([...this.#pending.keys(), ...this.#pendingExperts.keys()])) this.#flush(pid);
  }

  /** ns since the origin, as an exact number. */
  rel(ns: bigint): number {
    return Number(ns - this.#origin(ns));
  }

  #origin(ns: bigint): bigint {
    if (this.originNs === undefined) {
      // Keep absolute CLOCK_MONOTONIC times where numbers hold them exactly.
      this.originNs = ns < BigInt(EXACT_NS) ? 0n : ns - 2n ** 40n;
    }
    return this.originNs;
  }

  #addStructure(s: v1.IGraphStructure): void {
    const nodes = s.nodes ?? [];
    this.#structures.set(key(s.pid ?? 0, s.structureId), { pid: s.pid ?? 0, nodes, meta: new Array(nodes.length) });
  }

  #addProcess(p: v1.IProcessInfo): void {
    const pid = p.pid ?? 0;
    const exe = p.exe ?? '';
    const cmdline = (p.cmdline ?? '').split(' ').filter((a) => a !== '');
    const name = (exe || cmdline[0] || `pid ${pid}`).split('/').pop() ?? exe;
    const track = { pid, name, cmdline };
    this.#processes.set(pid, track);
    this.#sink.process(track);
  }

  #ensureProcess(pid: number): void {
    if (this.#processes.has(pid)) return;
    const track = { pid, name: `pid ${pid}`, cmdline: [] };
    this.#processes.set(pid, track);
    this.#sink.process(track);
  }

  #addThread(t: v1.IThreadInfo): void {
    const tkey = `${t.pid ?? 0}:${t.tid ?? 0}`;
    const name = t.name ?? '';
    this.#threadNames.set(tkey, name);
    const known = this.#threads.get(tkey);
    if (known !== undefined && known.name !== name) this.#emitThread(t.pid ?? 0, t.tid ?? 0, name);
  }

  #ensureThread(pid: number, tid: number): void {
    const tkey = `${pid}:${tid}`;
    if (!this.#threads.has(tkey)) this.#emitThread(pid, tid, this.#threadNames.get(tkey) ?? '');
  }

  #emitThread(pid: number, tid: number, name: string): void {
    this.#ensureProcess(pid);
    const track = { pid, tid, name };
    this.#threads.set(`${pid}:${tid}`, track);
    this.#sink.thread(track);
  }

  #ensureCounterTrack(id: string, pid: number | undefined, name: string, unit: string, tid?: number): void {
    if (this.#counterTracks.has(id)) return;
    if (pid !== undefined) this.#ensureProcess(pid);
    this.#counterTracks.add(id);
    this.#sink.counterTrack(tid === undefined ? { id, pid, name, unit } : { id, pid, tid, name, unit });
  }

  /**
   * A per-node counter as a rate on its thread's counter track: the delta over
   * the time it covers (from..to ns), per µs, at `from`. A rate reads the same
   * whatever the node's length and needs no running total, which unmeasured
   * rows (no value) would break. Unmeasured rows and empty spans draw nothing.
   */
  #counterSample(col: { readonly track: string }, delta: number | undefined, from: number, to: number): void {
    if (delta === undefined || to <= from) {
      this.stats.counterRowsUnmeasured++;
      return;
    }
    this.stats.counterSamples++;
    this.#sink.counter(col.track, from, (delta * 1000) / (to - from));
  }

  #addBatch(b: v1.INodeEventBatch): void {
    const gkey = key(b.pid ?? 0, b.graphId);
    const list = this.#batches.get(gkey);
    if (list === undefined) this.#batches.set(gkey, [b]);
    else list.push(b);
  }

  #addGraph(g: v1.IGraphEvent): void {
    this.stats.graphs++;
    const pid = g.pid ?? 0;
    const gkey = key(pid, g.graphId);
    const structure = this.#structures.get(key(pid, g.structureId));
    const backend = this.#strings.get(g.backendIid ?? 0) ?? '';
    // A routing's slice lasts as long as its MUL_MAT_ID node: its latest end on any thread.
    const routings = this.#routings.get(gkey);
    const nodeEnds = new Map<number, number>();
    for (const r of routings ?? []) nodeEnds.set(r.nodeIndex ?? 0, -Infinity);
    for (const b of this.#batches.get(gkey) ?? []) this.#batchSlices(b, structure, backend, nodeEnds, routings !== undefined);
    this.#batches.delete(gkey);
    if (routings !== undefined) {
      this.#routings.delete(gkey);
      this.#routingSlices(routings, nodeEnds);
    }
    if (nodeEnds.size > 0) {
      let graphs = this.#moeNodeEnds.get(pid);
      if (graphs === undefined) this.#moeNodeEnds.set(pid, (graphs = new Map()));
      graphs.set(gkey, nodeEnds);
    }
    const start = this.rel(longToBigInt(g.startNs));
    this.#push(pid, g.tid ?? 0, {
      kind: 'graph',
      name: backend ? `graph ${backend}` : 'graph',
      start,
      end: start + num(g.durationNs),
      args: [
        'graph_id', num(g.graphId),
        'n_nodes', g.nNodes ?? 0,
        'n_threads', g.nThreads ?? 0,
        'backend', backend,
        'structure_id', num(g.structureId),
      ],
    });
  }

  /** One call of a backend probe spec's function: a node slice named by its op (its function when unread). */
  #addBackendNode(n: v1.IBackendNodeEvent): void {
    const pid = n.pid ?? 0;
    const str = (iid: number | null | undefined): string => this.#strings.get(iid ?? 0) ?? '';
    const op = str(n.opIid);
    const start = this.rel(longToBigInt(n.startNs));
    this.stats.nodeEvents++;
    this.#push(pid, n.tid ?? 0, {
      kind: 'node',
      name: op || str(n.functionIid),
      start,
      end: start + num(n.durationNs),
      args: [
        'backend', str(n.backendIid),
        'function', str(n.functionIid),
        'tensor', str(n.nameIid),
        'shape', (n.ne ?? []).map(num).join('x'),
        'graph_id', num(n.graphId),
      ],
    });
  }

  #addToken(t: v1.ITokenEvent): void {
    this.stats.tokens++;
    const pid = t.pid ?? 0;
    const start = this.rel(longToBigInt(t.startNs));
    const duration = num(t.durationNs);
    const nTokens = t.nTokens ?? 0;
    this.#push(pid, t.tid ?? 0, {
      kind: 'token',
      name: nTokens > 1 ? 'llama_decode (prompt)' : 'llama_decode',
      start,
      end: start + duration,
      args: [
        'seq', num(t.seq),
        'n_tokens', nTokens,
        'result', t.result ?? 0,
        'context_id', `0x${longToBigInt(t.contextId).toString(16)}`,
        'node_level', t.nodeLevel ?? false,
      ],
    });
    if (this.#flowsForSeq !== undefined && num(t.seq) === this.#flowsForSeq) {
      this.#addFlows(this.#pending.get(pid)?.get(t.tid ?? 0)?.nodes ?? []);
    }
    this.#flush(pid);
    if (duration > 0) {
      const id = `tokens_per_s:${pid}`;
      this.#ensureCounterTrack(id, pid, 'tokens/s (per llama_decode)', 'tokens/s');
      this.#sink.counter(id, start, (nTokens * 1e9) / duration);
    }
  }

  #addRouting(r: v1.IExpertRouting): void {
    const gkey = key(r.pid ?? 0, r.graphId);
    const ends = this.#moeNodeEnds.get(r.pid ?? 0)?.get(gkey);
    if (ends !== undefined) {
      this.#routingSlices([r], ends);
      return;
    }
    const list = this.#routings.get(gkey);
    if (list === undefined) this.#routings.set(gkey, [r]);
    else list.push(r);
  }

  /** One slice per routing on its layer's track, from ts_ns (the node's start) to its node's end. */
  #routingSlices(routings: readonly v1.IExpertRouting[], nodeEnds: ReadonlyMap<number, number> | undefined): void {
    for (const r of routings) {
      this.stats.expertRoutings++;
      const pid = r.pid ?? 0;
      const layer = r.layer ?? -1;
      const start = this.rel(longToBigInt(r.tsNs));
      const nodeEnd = nodeEnds?.get(r.nodeIndex ?? 0) ?? -Infinity;
      const used = r.nExpertUsed ?? 0;
      const nTokens = r.nTokens ?? 0;
      const ids = r.expertIds ?? [];
      const malformed = used === 0 || ids.length !== used * nTokens;
      if (malformed) this.stats.malformedRoutings++;
      let name: string;
      if (malformed) name = 'experts (malformed)';
      else if (nTokens === 1) name = `experts ${ids.join(',')}`;
      else name = `${nTokens} tokens`;
      const args: (string | number | boolean)[] = [
        'layer', layer, 'n_tokens', nTokens, 'n_expert_used', used, 'graph_id', num(r.graphId), 'node_index', r.nodeIndex ?? 0,
        // Rows of n_expert_used ids, one row per token: "3,5;1,7;...".
        'expert_ids', malformed ? ids.join(',') : expertRows(ids, used),
      ];
      if (!malformed && nTokens > 1) args.push('tokens_per_expert', tokensPerExpert(ids));
      if (malformed) args.push('malformed', true);
      let layers = this.#pendingExperts.get(pid);
      if (layers === undefined) this.#pendingExperts.set(pid, (layers = new Map()));
      let slices = layers.get(layer);
      if (slices === undefined) layers.set(layer, (slices = []));
      slices.push({ kind: 'expert', name, start, end: Math.max(start, nodeEnd), args });
    }
  }

  #addQos(q: v1.IQosSample): void {
    const ts = this.rel(longToBigInt(q.tsNs));
    this.#ensureCounterTrack('qos_tokens_per_s', undefined, 'QoS tokens/s (window)', 'tokens/s');
    this.#sink.counter('qos_tokens_per_s', ts, q.tokensPerS ?? 0);
    this.#addLevel(longToBigInt(q.tsNs), q.level ?? 0);
  }

  /** The trace level (TraceLevel: 2 token, 3 graph, 4 node) from QoS samples and at each LevelChange. */
  #addLevel(tsNs: bigint, level: number): void {
    this.#ensureCounterTrack('qos_level', undefined, 'trace level', 'level');
    this.#sink.counter('qos_level', this.rel(tsNs), level);
  }

  #addLoss(l: v1.ILossStats): void {
    let lost = 0;
    // Counter values not measured are not lost events (profinfer.proto, LossStats).
    for (const c of l.lost ?? []) if (c.kind !== EventKind.EVENT_KIND_COUNTER) lost += num(c.count);
    if (lost === this.#lastLost) return;
    this.#lastLost = lost;
    this.#ensureCounterTrack('lost_events', undefined, 'lost events (cumulative)', 'events');
    this.#sink.counter('lost_events', this.rel(longToBigInt(l.tsNs)), lost);
  }

  #thread(pid: number, tid: number): PendingThread {
    let threads = this.#pending.get(pid);
    if (threads === undefined) this.#pending.set(pid, (threads = new Map()));
    let pending = threads.get(tid);
    if (pending === undefined) threads.set(tid, (pending = { outer: [], nodes: [] }));
    return pending;
  }

  #push(pid: number, tid: number, s: Slice): void {
    this.#thread(pid, tid).outer.push(s);
  }

  #flush(pid: number): void {
    this.#flushExperts(pid);
    this.#moeNodeEnds.delete(pid);
    const threads = this.#pending.get(pid);
    if (threads === undefined) return;
    this.#pending.delete(pid);
    for (const [tid, pending] of [...threads].sort((a, b) => a[0] - b[0])) {
      this.#ensureThread(pid, tid);
      this.#sink.slices(pid, tid, mergeSorted(pending));
    }
  }

  #flushExperts(pid: number): void {
    const layers = this.#pendingExperts.get(pid);
    if (layers === undefined) return;
    this.#pendingExperts.delete(pid);
    for (const [layer, slices] of [...layers].sort((a, b) => a[0] - b[0])) {
      const id = `moe:${pid}:${layer}`;
      if (!this.#sliceTracks.has(id)) {
        this.#ensureProcess(pid);
        this.#sliceTracks.add(id);
        this.#sink.sliceTrack({ id, pid, name: layer >= 0 ? `MoE layer ${layer}` : 'MoE layer ?', rank: layer });
      }
      this.#sink.trackSlices(id, slices.sort(bySliceOrder));
    }
  }

  /** DAG edges between the node slices of one thread (the caller of llama_decode) as flows. */
  #addFlows(nodes: readonly Slice[]): void {
    const byNode = new Map<Structure, Map<number, Slice>>();
    for (const s of nodes) {
      const ref = this.#nodeRefs.get(s);
      if (ref === undefined) continue;
      let m = byNode.get(ref.structure);
      if (m === undefined) byNode.set(ref.structure, (m = new Map()));
      if (!m.has(ref.index)) m.set(ref.index, s);
    }
    for (const [structure, slices] of byNode) {
      if (structure.producers === undefined) {
        structure.producers = new Map();
        structure.nodes.forEach((n, i) => structure.producers?.set(longToBigInt(n.tensorId), i));
      }
      for (const [index, consumer] of slices) {
        const seen = new Set<Slice>();
        for (const src of structure.nodes[index]?.srcTensorIds ?? []) {
          const producer = executedProducer(structure, longToBigInt(src), slices);
          if (producer === undefined || producer === consumer || seen.has(producer)) continue;
          seen.add(producer);
          const id = ++this.#lastFlowId;
          (producer.flowOut ??= []).push(id);
          (consumer.flowIn ??= []).push(id);
        }
      }
    }
  }

  #meta(structure: Structure | undefined, index: number, backend: string): NodeMeta | undefined {
    if (structure === undefined) return undefined;
    const cached = structure.meta[index];
    if (cached !== undefined && cached.backend === backend) return cached;
    const node = structure.nodes[index];
    if (node === undefined) return undefined;
    const engine = this.#engines.get(structure.pid);
    const opIndex = node.op ?? 0;
    let op = engine?.opNames?.[opIndex] ?? `op${opIndex}`;
    const sub = node.subOp ?? 0;
    if (op === 'UNARY') op = engine?.unaryOpNames?.[sub] ?? op;
    else if (op === 'GLU') op = engine?.gluOpNames?.[sub] ?? op;
    const typeIndex = node.type ?? 0;
    const tensor = this.#strings.get(node.nameIid ?? 0) ?? '';
    const type = engine?.typeNames?.[typeIndex] ?? GGML_TYPE_NAMES[typeIndex] ?? `type${typeIndex}`;
    const shape = `[${(node.ne ?? []).map((d) => longToSignedBigInt(d).toString()).join(',')}]`;
    const layer = layerOf(tensor);
    const fixed: (string | number | boolean)[] = ['op', op, 'type', type, 'shape', shape, 'name', tensor];
    if (layer >= 0) fixed.push('layer', layer);
    if (backend) fixed.push('backend', backend);
    fixed.push('node_index', index);
    const meta: NodeMeta = { backend, fixed, op, type, shape, tensor, layer, moe: op === 'MUL_MAT_ID' };
    structure.meta[index] = meta;
    return meta;
  }

  /** nodeEnds: filled with the latest end of each MUL_MAT_ID node (and of each node already in it when `seeded`). */
  #batchSlices(
    b: v1.INodeEventBatch, structure: Structure | undefined, backend: string, nodeEnds?: Map<number, number>, seeded = false,
  ): void {
    const pid = b.pid ?? 0;
    const tid = b.tid ?? 0;
    const graphId = num(b.graphId);
    const deltas = b.nodeIndexDelta ?? [];
    const compute = b.computeNs ?? [];
    const barrier = b.barrierNs ?? [];
    const fusedCol = b.fused ?? [];
    // Unmeasured rows have no delta: spread the values over the measured rows.
    const counters = (b.counters ?? []).map((c) => ({
      name: this.#counterNames.get(c.counterId ?? 0) ?? `counter${c.counterId ?? 0}`,
      delta: counterColumnRows(c, deltas.length),
      includesPreviousBarrier: c.includesPreviousBarrier ?? false,
      track: `pmc:${pid}:${tid}:${c.counterId ?? 0}`,
    }));
    for (const col of counters) {
      this.#ensureThread(pid, tid);
      this.#ensureCounterTrack(col.track, pid, `${col.name}/µs`, `${col.name}/µs`, tid);
    }
    let prevBarrier = 0;
    const out = this.#thread(pid, tid).nodes;
    const shared: FlatArgs = ['graph_id', graphId, 'thread_index', b.threadIndex ?? 0];
    let index = 0;
    let t = this.rel(longToBigInt(b.startNs));
    for (let i = 0; i < deltas.length; i++) {
      index = (index + (deltas[i] ?? 0)) >>> 0;
      const c = num(compute[i]);
      const w = num(barrier[i]);
      const fused = fusedCol[i] ?? 0;
      const meta = this.#meta(structure, index, backend);
      const args: (string | number | boolean)[] = ['barrier_wait_ns', w];
      if (fused > 0) args.push('fused', fused);
      for (const col of counters) {
        const v = col.delta[i];
        if (v !== undefined) args.push(col.name, v);
        this.#counterSample(col, v, col.includesPreviousBarrier ? t - prevBarrier : t, t + c);
      }
      const slice: Slice = {
        kind: 'node',
        name: meta === undefined ? (structure === undefined ? 'node' : `node ${index}`) : fused > 0 ? `${meta.op}+${fused}` : meta.op,
        start: t,
        end: t + c,
        fixed: meta?.fixed ?? ['node_index', index],
        shared,
        args,
      };
      out.push(slice);
      if (this.#flowsForSeq !== undefined && structure !== undefined) this.#nodeRefs.set(slice, { structure, index });
      if (nodeEnds !== undefined && (meta?.moe === true || (seeded && nodeEnds.has(index)))) {
        const end = nodeEnds.get(index);
        if (end === undefined || t + c > end) nodeEnds.set(index, t + c);
      }
      prevBarrier = w;
      t += c + w;
      this.stats.nodeEvents++;
    }
  }
}

/**
 * enum ggml_type by value, for engines whose EngineInfo has no type_names.
 * These values are stable: GGUF files store them.
 */
export const GGML_TYPE_NAMES: readonly (string | undefined)[] = [
  'f32', 'f16', 'q4_0', 'q4_1', undefined, undefined, 'q5_0', 'q5_1', 'q8_0', 'q8_1', 'q2_K', 'q3_K', 'q4_K',
  'q5_K', 'q6_K', 'q8_K', 'iq2_xxs', 'iq2_xs', 'iq3_xxs', 'iq1_s', 'iq4_nl', 'iq3_s', 'iq2_s', 'iq4_xs', 'i8',
  'i16', 'i32', 'i64', 'f64', 'iq1_m', 'bf16', undefined, undefined, undefined, 'tq1_0', 'tq2_0', undefined,
  undefined, undefined, 'mxfp4',
];

/** llama.cpp names per-layer tensors "<what>-<layer>" (cb() in llama-graph.cpp) or "blk.<layer>.<what>". */
function layerOf(tensor: string): number {
  const m = /^blk\.(\d+)\.|-(\d+)(?: \(|$)/.exec(tensor);
  return m === null ? -1 : Number(m[1] ?? m[2]);
}

/** How many view / reshape / permute nodes a DAG edge is followed through. */
const MAX_VIEW_HOPS = 16;

/**
 * The slice of the executed node that produced a tensor: views, reshapes and
 * permutes are not executed, so an edge through one is followed to the node
 * that computed the data (view_src, else src[0]).
 */
function executedProducer(structure: Structure, tensor: bigint, slices: ReadonlyMap<number, Slice>): Slice | undefined {
  for (let hop = 0; hop < MAX_VIEW_HOPS; hop++) {
    const from = structure.producers?.get(tensor);
    if (from === undefined) return undefined;
    const slice = slices.get(from);
    if (slice !== undefined) return slice;
    const node = structure.nodes[from];
    const next = longToBigInt(node?.viewSrcId) || longToBigInt(node?.srcTensorIds?.[0]);
    if (next === 0n) return undefined;
    tensor = next;
  }
  return undefined;
}

/** A thread's waiting slices: tokens and graphs (few), and nodes (many, mostly in time order already). */
interface PendingThread {
  readonly outer: Slice[];
  readonly nodes: Slice[];
}

/** Both lists as one, sorted by bySliceOrder: a merge, so the many node slices are not sorted again. */
function mergeSorted(p: PendingThread): Slice[] {
  const { outer, nodes } = p;
  outer.sort(bySliceOrder);
  for (let i = 1; i < nodes.length; i++) {
    if (bySliceOrder(nodes[i - 1] as Slice, nodes[i] as Slice) > 0) {
      nodes.sort(bySliceOrder);
      break;
    }
  }
  if (outer.length === 0) return nodes;
  const out: Slice[] = new Array(outer.length + nodes.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < outer.length && j < nodes.length) {
    out[k++] = bySliceOrder(outer[i] as Slice, nodes[j] as Slice) <= 0 ? (outer[i++] as Slice) : (nodes[j++] as Slice);
  }
  while (i < outer.length) out[k++] = outer[i++] as Slice;
  while (j < nodes.length) out[k++] = nodes[j++] as Slice;
  return out;
}

const KIND_DEPTH: Readonly<Record<SliceKind, number>> = { token: 0, graph: 1, node: 2, expert: 0 };

/** Start ascending; at equal starts the enclosing slice first. */
function bySliceOrder(a: Slice, b: Slice): number {
  return a.start - b.start || b.end - a.end || KIND_DEPTH[a.kind] - KIND_DEPTH[b.kind];
}

/** Expert ids as rows of `used` ids, one per token: "3,5;1,7". */
function expertRows(ids: readonly number[], used: number): string {
  const rows: string[] = [];
  for (let i = 0; i < ids.length; i += used) rows.push(ids.slice(i, i + used).join(','));
  return rows.join(';');
}

/** How many tokens each expert got in a batch: "expert:count,...", by expert id. */
function tokensPerExpert(ids: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]).map(([e, n]) => `${e}:${n}`).join(',');
}

/** Looks up a key in FlatArgs (tests, tools). */
export function argOf(args: FlatArgs, name: string): string | number | boolean | undefined {
  for (let i = 0; i < args.length; i += 2) if (args[i] === name) return args[i + 1];
  return undefined;
}

/** A sink that also turns what it is drawn into output chunks: the exporters' writers. */
export interface ChunkWriter<C, S> extends TimelineSink {
  /** Completed chunks since the last call. */
  take(): C[];
  /** Ends the output; take() then returns the last chunks. */
  finish(): void;
  readonly stats: S;
}

type MakeWriter<C, S> = (originNs: () => bigint) => ChunkWriter<C, S>;

/** Streams packets through a Timeline into a writer, yielding chunks as they are ready. */
export async function* streamTimeline<C, S>(
  packets: AsyncIterable<v1.ITracePacket> | Iterable<v1.ITracePacket>,
  makeWriter: MakeWriter<C, S>,
  options: TimelineOptions,
  stats?: (s: TimelineStats & S) => void,
): AsyncGenerator<C, void, undefined> {
  let timeline: Timeline | undefined;
  const writer = makeWriter(() => timeline?.originNs ?? 0n);
  timeline = new Timeline(writer, options);
  for await (const p of packets) {
    timeline.add(p);
    yield* writer.take();
  }
  timeline.finish();
  writer.finish();
  yield* writer.take();
  stats?.({ ...timeline.stats, ...writer.stats });
}

/** The same for packets held in memory (tests, small traces). */
export function runTimeline<C, S>(
  packets: Iterable<v1.ITracePacket>,
  makeWriter: MakeWriter<C, S>,
  options: TimelineOptions,
): { chunks: C[]; stats: TimelineStats & S } {
  let timeline: Timeline | undefined;
  const writer = makeWriter(() => timeline?.originNs ?? 0n);
  timeline = new Timeline(writer, options);
  for (const p of packets) timeline.add(p);
  timeline.finish();
  writer.finish();
  return { chunks: writer.take(), stats: { ...timeline.stats, ...writer.stats } };
}
