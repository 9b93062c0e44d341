// control_client.ts: requests to `profinferd serve` over a ControlSocket.
// Every request carries a fresh request id and resolves with the reply under
// that id, or rejects with ControlRequestError (profinferd's ErrorCode and
// message) or ConnectionLostError. The app's counterpart of
// host/src/device/control_client.ts, without trace streaming.
import { ControlSocket } from './control_socket';
import { FrameError, FrameSplitter, MAX_CLIENT_FRAME_BYTES, MAX_SERVER_FRAME_BYTES, encodeFrame } from './frame';
import {
  ClientKind, ClientMessage, ErrorCode, HelloReplyMsg, PROTOCOL_VERSION, ServerKind, ServerMessage,
  SessionConfigMsg, SessionStatusMsg, TraceEntryMsg, TraceLevel, decodeServerMessage, encodeClientMessage,
  errorCodeName
} from './messages';

/** profinferd answered a request with an Error. */
export class ControlRequestError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(`${errorCodeName(code)}: ${message}`);
    this.name = 'ControlRequestError';
    this.code = code;
  }
}

/** The connection failed, closed, or timed out before the answer came. */
export class ConnectionLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionLostError';
  }
}

/** profinferd speaks another control protocol version. */
export class VersionMismatchError extends Error {
  readonly serverVersion: number;

  constructor(serverVersion: number, message: string) {
    super(message);
    this.name = 'VersionMismatchError';
    this.serverVersion = serverVersion;
  }
}

export class StartedSession {
  sessionId: string = '';
  traceId: string = '';
}

class Pending {
  resolve: (m: ServerMessage) => void;
  reject: (e: Error) => void;
  timer: number;

  constructor(resolve: (m: ServerMessage) => void, reject: (e: Error) => void, timer: number) {
    this.resolve = resolve;
    this.reject = reject;
    this.timer = timer;
  }
}

export class ControlClient {
  private readonly socket: ControlSocket;
  private readonly timeoutMs: number;
  private readonly splitter: FrameSplitter = new FrameSplitter(MAX_SERVER_FRAME_BYTES);
  private readonly pending: Map<number, Pending> = new Map<number, Pending>();
  private nextId: number = 1;
  private closedError: Error | undefined = undefined;
  private closeListeners: ((e: Error) => void)[] = [];
  /** An Error profinferd sent outside any request, e.g. just before closing. */
  lastUnsolicitedError: ControlRequestError | undefined = undefined;
  hello: HelloReplyMsg | undefined = undefined;

  /** Takes a connected socket. */
  constructor(socket: ControlSocket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.onData((chunk: Uint8Array) => {
      this.onData(chunk);
    });
    socket.onClose((reason: string) => {
      this.shutdown(new ConnectionLostError(reason.length > 0 ? `connection to profinferd lost: ${reason}`
        : 'profinferd closed the connection'));
    });
  }

  isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** Called once when the connection ends (with why). */
  onClosed(listener: (e: Error) => void): void {
    this.closeListeners.push(listener);
  }

  /** Hello: authenticates. Rejects with ControlRequestError or VersionMismatchError. */
  async authenticate(token: string, clientName: string, protocolVersion: number): Promise<HelloReplyMsg> {
    const m = new ClientMessage();
    m.kind = ClientKind.HELLO;
    m.protocolVersion = protocolVersion;
    m.authToken = token;
    m.clientName = clientName;
    const reply = await this.request(m);
    const h = expectKind(reply, ServerKind.HELLO).hello;
    if (h === undefined) {
      throw new ConnectionLostError('profinferd sent an empty HelloReply');
    }
    if (h.protocolVersion !== PROTOCOL_VERSION) {
      throw new VersionMismatchError(h.protocolVersion,
        `profinferd ${h.serverVersion} speaks control protocol ${h.protocolVersion}, this app ${PROTOCOL_VERSION}: ` +
        'install the app of the same release as profinferd');
    }
    this.hello = h;
    return h;
  }

  async status(): Promise<SessionStatusMsg[]> {
    const m = new ClientMessage();
    m.kind = ClientKind.STATUS;
    return expectKind(await this.request(m), ServerKind.STATUS).sessions;
  }

  /** pid > 0 attaches to that process; otherwise waits for a process named `processName`. */
  async startSession(pid: number, processName: string, config: SessionConfigMsg): Promise<StartedSession> {
    const m = new ClientMessage();
    m.kind = ClientKind.START;
    m.pid = pid;
    m.processName = processName;
    m.config = config;
    const r = expectKind(await this.request(m), ServerKind.STARTED);
    const s = new StartedSession();
    s.sessionId = r.startedSessionId;
    s.traceId = r.startedTraceId;
    return s;
  }

  async stopSession(sessionId: string): Promise<void> {
    const m = new ClientMessage();
    m.kind = ClientKind.STOP;
    m.sessionId = sessionId;
    expectKind(await this.request(m), ServerKind.ACK);
  }

  async setLevel(sessionId: string, level: TraceLevel): Promise<void> {
    const m = new ClientMessage();
    m.kind = ClientKind.SET_LEVEL;
    m.sessionId = sessionId;
    m.level = level;
    expectKind(await this.request(m), ServerKind.ACK);
  }

  async listTraces(): Promise<TraceEntryMsg[]> {
    const m = new ClientMessage();
    m.kind = ClientKind.LIST;
    return expectKind(await this.request(m), ServerKind.TRACES).traces;
  }

  async deleteTrace(traceId: string): Promise<void> {
    const m = new ClientMessage();
    m.kind = ClientKind.DELETE;
    m.traceId = traceId;
    expectKind(await this.request(m), ServerKind.ACK);
  }

  /** Marks (or unmarks) a trace for the next `profinfer-host pull`. */
  async markTrace(traceId: string, marked: boolean): Promise<void> {
    const m = new ClientMessage();
    m.kind = ClientKind.MARK;
    m.traceId = traceId;
    m.marked = marked;
    expectKind(await this.request(m), ServerKind.ACK);
  }

  /** Sends one request; resolves with the reply under its id (an Error reply rejects). */
  request(m: ClientMessage): Promise<ServerMessage> {
    const closed = this.closedError;
    if (closed !== undefined) {
      return Promise.reject(closed);
    }
    const id = this.nextId++;
    m.requestId = id;
    const body = encodeClientMessage(m);
    if (body.length > MAX_CLIENT_FRAME_BYTES) {
      return Promise.reject(new RangeError(`request of ${body.length} bytes exceeds profinferd's limit of ${MAX_CLIENT_FRAME_BYTES}`));
    }
    return new Promise<ServerMessage>((resolve: (m: ServerMessage) => void, reject: (e: Error) => void) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ConnectionLostError(`no answer from profinferd within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, new Pending(resolve, reject, timer));
      this.socket.send(encodeFrame(body)).catch((e: Error) => {
        this.shutdown(new ConnectionLostError(`cannot send to profinferd: ${e.message}`));
      });
    });
  }

  close(): void {
    this.shutdown(new ConnectionLostError('closed by the app'));
    this.socket.close();
  }

  private onData(chunk: Uint8Array): void {
    let bodies: Uint8Array[] = [];
    try {
      bodies = this.splitter.push(chunk);
    } catch (e) {
      const msg = e instanceof FrameError ? e.message : `${e}`;
      this.shutdown(new ConnectionLostError(`profinferd sent a bad frame: ${msg}`));
      this.socket.close();
      return;
    }
    for (const body of bodies) {
      let m: ServerMessage;
      try {
        m = decodeServerMessage(body);
      } catch (e) {
        this.shutdown(new ConnectionLostError(`profinferd sent a malformed message: ${(e as Error).message}`));
        this.socket.close();
        return;
      }
      this.dispatch(m);
    }
  }

  private dispatch(m: ServerMessage): void {
    const p = this.pending.get(m.requestId);
    const err = m.error;
    if (p === undefined) {
      if (err !== undefined) {
        this.lastUnsolicitedError = new ControlRequestError(err.code, err.message);
      }
      return;
    }
    this.pending.delete(m.requestId);
    clearTimeout(p.timer);
    if (m.kind === ServerKind.ERROR && err !== undefined) {
      p.reject(new ControlRequestError(err.code, err.message));
    } else {
      p.resolve(m);
    }
  }

  private shutdown(e: Error): void {
    if (this.closedError !== undefined) {
      return;
    }
    // An Error profinferd sent just before closing says more than "closed".
    const last = this.lastUnsolicitedError;
    const why: Error = last !== undefined ? last : e;
    this.closedError = why;
    this.pending.forEach((p: Pending) => {
      clearTimeout(p.timer);
      p.reject(why);
    });
    this.pending.clear();
    for (const l of this.closeListeners) {
      l(why);
    }
  }
}

/** The reply must be of `kind`; anything else is a protocol error. */
function expectKind(m: ServerMessage, kind: ServerKind): ServerMessage {
  if (m.kind !== kind) {
    throw new ConnectionLostError(`profinferd answered with message kind ${m.kind}, expected ${kind}`);
  }
  return m;
}
