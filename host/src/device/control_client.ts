// control_client.ts: a client of `profinferd serve`'s control socket (TCP or
// Unix), for profinfer-host (connect, record, pull) and the tests.
//
// Every request carries a fresh request id and resolves with the reply under
// that id: a typed result, or a ControlError with profinferd's ErrorCode and
// message. Subscribe / FetchTrace answer with an Ack and then TraceChunks
// under the same id (and, for a running session, a QosSample about once a
// second); a TraceStream checks that the chunks are contiguous from the
// requested offset, so a client that reconnects resumes with the offset it
// has and the bytes it reassembles equal the trace file.
import { connect as netConnect, type Socket } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { ClientMessage, ErrorCode, ServerMessage, longToBigInt, type v1 } from '../proto.js';
import { ControlFrameError, FrameSplitter, MAX_CLIENT_FRAME_BYTES, MAX_SERVER_FRAME_BYTES, encodeFrame } from './control_frame.js';

/** The control protocol this client speaks: PI_PROTOCOL_VERSION in collector-c/src/version.h. */
export const PROTOCOL_VERSION = 1;
/** profinferd serve's default TCP port (on loopback). */
export const DEFAULT_PORT = 7420;

/** profinferd answered a request with an Error. */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly requestId: number,
  ) {
    super(`${ErrorCode[code] ?? `error ${code}`}: ${message}`);
    this.name = this.constructor.name;
  }
}

/** The connection failed or closed before the answer came. */
export class ControlConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** profinferd speaks another protocol version than this client. */
export class ControlVersionError extends Error {
  constructor(
    readonly serverVersion: number,
    readonly clientVersion: number,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

export type Endpoint = { readonly host?: string; readonly port: number } | { readonly unixPath: string };

export interface ConnectOptions {
  readonly endpoint: Endpoint;
  /** The token from profinferd's --token-file. */
  readonly token: string;
  readonly clientName?: string;
  /** Sent in Hello; tests set another value to check the mismatch error. */
  readonly protocolVersion?: number;
  /** For connecting and for each request (default 30 s). */
  readonly timeoutMs?: number;
}

export type SessionTarget = { readonly pid: number } | { readonly processName: string };

export interface SessionStartedInfo {
  readonly sessionId: string;
  readonly traceId: string;
}

export interface TraceChunk {
  readonly traceId: string;
  /** Byte offset of `data` in the trace file. */
  readonly offset: number;
  readonly data: Uint8Array;
  /** The trace is complete and ends here. */
  readonly eof: boolean;
}

export interface StreamOptions {
  /** Keep the chunks' bytes for bytes() (default true); off for large streams consumed by onChunk. */
  readonly keep?: boolean;
  /** Called for every chunk, from the first (registered before the request is sent). */
  readonly onChunk?: (c: TraceChunk) => void;
  /** Called for every QoS sample of a subscribed running session. */
  readonly onQos?: (q: v1.IQosSample) => void;
}

interface Pending {
  readonly resolve: (m: ServerMessage) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The bytes of one trace from an offset, as profinferd sends them (Subscribe
 * or FetchTrace). `done` resolves at the trace's end (eof) and rejects when
 * the connection closes first: `offset` then says where to resume.
 */
export class TraceStream {
  /** The next byte offset expected: where a resumed stream starts. */
  offset: number;
  readonly done: Promise<void>;
  #chunks: Uint8Array[] = [];
  #listeners: ((c: TraceChunk) => void)[] = [];
  /**
   * Chunks that came with the Ack, in the same read, before the caller could
   * register a listener; kept until the first onChunk() or the next turn of
   * the event loop (stopEarly()).
   */
  #early: TraceChunk[] | undefined = [];
  #qosListeners: ((q: v1.IQosSample) => void)[] = [];
  /** The last QoS sample of the session (Subscribe only). */
  lastQos: v1.IQosSample | undefined;
  #resolve!: () => void;
  #reject!: (e: Error) => void;
  #finished = false;

  constructor(
    readonly requestId: number,
    readonly startOffset: number,
    /** Keep the chunks' bytes (bytes()); off for large streams consumed by onChunk. */
    readonly keep: boolean,
  ) {
    this.offset = startOffset;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => undefined); // callers that only use offset need not await
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Every chunk goes to every listener; the first one also gets those that came before it. */
  onChunk(listener: (c: TraceChunk) => void): void {
    this.#listeners.push(listener);
    const early = this.#early;
    this.#early = undefined;
    for (const c of early ?? []) listener(c);
  }

  /** @internal Nobody registered right after the Ack: stop queueing. */
  stopEarly(): void {
    this.#early = undefined;
  }

  /** Live QoS samples of a subscribed running session. */
  onQos(listener: (q: v1.IQosSample) => void): void {
    this.#qosListeners.push(listener);
  }

  /** @internal */
  deliverQos(q: v1.IQosSample): void {
    this.lastQos = q;
    for (const l of this.#qosListeners) l(q);
  }

  /** Every byte received so far, from startOffset. */
  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }

  /** @internal */
  deliver(c: TraceChunk): void {
    if (this.#finished) return;
    if (c.offset !== this.offset) {
      this.fail(new ControlConnectionError(`trace ${c.traceId}: chunk at offset ${c.offset}, expected ${this.offset}: bytes were lost`));
      return;
    }
    if (c.data.length) {
      if (this.keep) this.#chunks.push(c.data);
      this.offset += c.data.length;
    }
    if (this.#early) this.#early.push(c);
    else for (const l of this.#listeners) l(c);
    if (c.eof) {
      this.#finished = true;
      this.#resolve();
    }
  }

  /** @internal */
  fail(e: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#reject(e);
  }
}

/** One authenticated connection to profinferd serve. */
export class ControlClient {
  /** profinferd's HelloReply. */
  hello!: v1.IHelloReply;
  /** Errors profinferd sent outside any request (request id 0), e.g. on a bad frame. */
  readonly unsolicitedErrors: ControlError[] = [];
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  readonly #splitter = new FrameSplitter(MAX_SERVER_FRAME_BYTES);
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, TraceStream>();
  #nextId = 1;
  #closed: Error | undefined;
  readonly closed: Promise<void>;

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    let onClosed!: () => void;
    this.closed = new Promise((resolve) => (onClosed = resolve));
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', (e) => this.#shutdown(new ControlConnectionError(`connection to profinferd failed: ${e.message}`, { cause: e })));
    socket.on('close', () => {
      this.#shutdown(new ControlConnectionError('profinferd closed the connection'));
      onClosed();
    });
  }

  /** Connects and authenticates (Hello). Rejects with ControlError / ControlVersionError. */
  static async connect(o: ConnectOptions): Promise<ControlClient> {
    const timeoutMs = o.timeoutMs ?? 30_000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = 'unixPath' in o.endpoint ? netConnect(o.endpoint.unixPath) : netConnect(o.endpoint.port, o.endpoint.host ?? '127.0.0.1');
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ControlConnectionError(`no connection to profinferd within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new ControlConnectionError(`cannot connect to profinferd at ${describe(o.endpoint)}: ${e.message} (is \`profinferd serve\` running?)`, { cause: e }));
      });
    });
    const client = new ControlClient(socket, timeoutMs);
    try {
      const reply = await client.request({
        hello: { protocolVersion: o.protocolVersion ?? PROTOCOL_VERSION, authToken: o.token, clientName: o.clientName ?? 'profinfer-host' },
      });
      const hello = expectKind(reply, 'hello');
      const serverVersion = hello.protocolVersion ?? 0;
      if (serverVersion !== PROTOCOL_VERSION) {
        throw new ControlVersionError(
          serverVersion,
          PROTOCOL_VERSION,
          `profinferd ${hello.serverVersion ?? '?'} speaks control protocol ${serverVersion}, this client speaks ${PROTOCOL_VERSION}: use a profinfer-host of the same release`,
        );
      }
      client.hello = hello;
      return client;
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** Sends one request and resolves with the ServerMessage under its id (an Error rejects). */
  request(msg: Omit<v1.IClientMessage, 'requestId'>): Promise<ServerMessage> {
    const id = this.#nextId++;
    return this.#send(id, msg);
  }

  /** Sends raw bytes (tests of malformed input). */
  writeRaw(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  async startSession(target: SessionTarget, config?: v1.ISessionConfig): Promise<SessionStartedInfo> {
    const start: v1.IStartSession = 'pid' in target ? { pid: target.pid } : { processName: target.processName };
    if (config) start.config = config;
    const s = expectKind(await this.request({ start }), 'started');
    return { sessionId: s.sessionId ?? '', traceId: s.traceId ?? '' };
  }

  async stopSession(sessionId: string): Promise<void> {
    expectKind(await this.request({ stop: { sessionId } }), 'ack');
  }

  async status(): Promise<v1.ISessionStatus[]> {
    return expectKind(await this.request({ status: {} }), 'status').sessions ?? [];
  }

  async setLevel(sessionId: string, level: v1.TraceLevel): Promise<void> {
    expectKind(await this.request({ setLevel: { sessionId, level } }), 'ack');
  }

  async listTraces(): Promise<v1.ITraceEntry[]> {
    return expectKind(await this.request({ list: {} }), 'traces').traces ?? [];
  }

  async deleteTrace(traceId: string): Promise<void> {
    expectKind(await this.request({ delete: { traceId } }), 'ack');
  }

  /** Marks a stored trace for the next batch pull (`pull`), or clears the mark. */
  async markTrace(traceId: string, marked = true): Promise<void> {
    expectKind(await this.request({ mark: { traceId, marked } }), 'ack');
  }

  /** Streams a session's trace from `offset` until it ends. */
  subscribe(sessionId: string, offset = 0, o: StreamOptions | boolean = {}): Promise<TraceStream> {
    return this.#openStream({ subscribe: { sessionId, offset: toLong(offset) } }, offset, o);
  }

  /** Streams a stored (or still running) trace from `offset` to its end. */
  fetch(traceId: string, offset = 0, o: StreamOptions | boolean = {}): Promise<TraceStream> {
    return this.#openStream({ fetch: { traceId, offset: toLong(offset) } }, offset, o);
  }

  /** The whole trace from `offset`, once it has ended. */
  async fetchAll(traceId: string, offset = 0): Promise<Uint8Array> {
    const s = await this.fetch(traceId, offset);
    await s.done;
    return s.bytes();
  }

  close(): void {
    this.#socket.end();
    this.#socket.destroy();
  }

  /** Stops reading from the socket (a slow client: profinferd holds back, never drops). */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Drops the connection at once, like a killed process. */
  destroy(): void {
    this.#socket.destroy();
  }

  async #openStream(msg: Omit<v1.IClientMessage, 'requestId'>, offset: number, opts: StreamOptions | boolean): Promise<TraceStream> {
    const o: StreamOptions = typeof opts === 'boolean' ? { keep: opts } : opts; // a boolean is `keep`
    const id = this.#nextId++;
    const stream = new TraceStream(id, offset, o.keep ?? true);
    if (o.onChunk) stream.onChunk(o.onChunk);
    if (o.onQos) stream.onQos(o.onQos);
    this.#streams.set(id, stream); // chunks may follow the Ack in the same read
    try {
      expectKind(await this.#send(id, msg), 'ack');
    } catch (e) {
      this.#streams.delete(id);
      throw e;
    }
    setImmediate(() => stream.stopEarly()); // after the caller's `await` has run
    return stream;
  }

  #send(id: number, msg: Omit<v1.IClientMessage, 'requestId'>): Promise<ServerMessage> {
    if (this.#closed) return Promise.reject(this.#closed);
    const body = ClientMessage.encode(ClientMessage.create({ ...msg, requestId: toLong(id) })).finish();
    if (body.length > MAX_CLIENT_FRAME_BYTES) {
      return Promise.reject(new RangeError(`request of ${body.length} bytes exceeds profinferd's limit of ${MAX_CLIENT_FRAME_BYTES}`));
    }
    return new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ControlConnectionError(`no answer from profinferd within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.write(encodeFrame(body));
    });
  }

  #onData(d: Buffer): void {
    let bodies: Uint8Array[];
    try {
      bodies = this.#splitter.push(d);
    } catch (e) {
      this.#shutdown(e instanceof ControlFrameError ? new ControlConnectionError(`profinferd sent a bad frame: ${e.message}`, { cause: e }) : (e as Error));
      this.#socket.destroy();
      return;
    }
    for (const body of bodies) {
      let m: ServerMessage;
      try {
        m = ServerMessage.decode(body);
      } catch (e) {
        this.#shutdown(new ControlConnectionError(`profinferd sent a malformed ServerMessage: ${(e as Error).message}`, { cause: e }));
        this.#socket.destroy();
        return;
      }
      this.#dispatch(m);
    }
  }

  #dispatch(m: ServerMessage): void {
    const id = Number(longToBigInt(m.requestId));
    const stream = this.#streams.get(id);
    if (m.chunk && stream) {
      const c = m.chunk;
      stream.deliver({ traceId: c.traceId ?? '', offset: Number(longToBigInt(c.offset)), data: c.data ?? new Uint8Array(0), eof: c.eof ?? false });
      if (stream.finished) this.#streams.delete(id);
      return;
    }
    if (m.qos && stream) {
      stream.deliverQos(m.qos);
      return;
    }
    if (m.error && stream && !this.#pending.has(id)) {
      stream.fail(new ControlError(m.error.code ?? ErrorCode.ERROR_CODE_UNSPECIFIED, m.error.message ?? '', id));
      this.#streams.delete(id);
      return;
    }
    const p = this.#pending.get(id);
    if (!p) {
      if (m.error) this.unsolicitedErrors.push(new ControlError(m.error.code ?? ErrorCode.ERROR_CODE_UNSPECIFIED, m.error.message ?? '', id));
      return;
    }
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (m.error) p.reject(new ControlError(m.error.code ?? ErrorCode.ERROR_CODE_UNSPECIFIED, m.error.message ?? '', id));
    else p.resolve(m);
  }

  #shutdown(e: Error): void {
    if (this.#closed) return;
    // An Error profinferd sent just before closing says more than "closed".
    const last = this.unsolicitedErrors[this.unsolicitedErrors.length - 1];
    this.#closed = last ?? e;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.#closed);
    }
    this.#pending.clear();
    for (const s of this.#streams.values()) s.fail(this.#closed);
    this.#streams.clear();
  }
}

function toLong(n: number): protobuf.Long {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a valid uint64 here`);
  return new protobuf.util.Long(n % 2 ** 32 | 0, Math.floor(n / 2 ** 32) | 0, true);
}

function describe(e: Endpoint): string {
  return 'unixPath' in e ? e.unixPath : `${e.host ?? '127.0.0.1'}:${e.port}`;
}

type ReplyKind = NonNullable<ServerMessage['msg']>;

/** The member `kind` of a reply; anything else is a protocol error. */
function expectKind<K extends ReplyKind>(m: ServerMessage, kind: K): NonNullable<ServerMessage[K]> {
  const v = m[kind];
  if (m.msg !== kind || v === null || v === undefined) {
    throw new ControlConnectionError(`profinferd answered with ${m.msg ?? 'nothing'}, expected ${kind}`);
  }
  return v as NonNullable<ServerMessage[K]>;
}
