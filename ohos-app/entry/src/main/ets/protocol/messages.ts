// messages.ts: the control messages the app sends and reads, encoded by hand
// (wire.ts) from proto/profinfer/v1/profinfer.proto. Field numbers below are
// the schema's; ohos-app/test/messages.test.ts checks every one against
// protobufjs loading that .proto, so a schema change that breaks them fails.
import { ProtoReader, ProtoWriter, WireError, WireType, utf8Encode } from './wire';

/** The control protocol version the app speaks (PI_PROTOCOL_VERSION). */
export const PROTOCOL_VERSION: number = 1;

export enum TraceLevel {
  UNSPECIFIED = 0,
  OFF = 1,
  TOKEN = 2,
  GRAPH = 3,
  NODE = 4
}

export enum ErrorCode {
  UNSPECIFIED = 0,
  BAD_REQUEST = 1,
  UNAUTHENTICATED = 2,
  VERSION_MISMATCH = 3,
  NOT_FOUND = 4,
  NOT_ALLOWED = 5,
  BUSY = 6,
  INTERNAL = 7,
  TOO_LARGE = 8
}

// ---------------------------------------------------------------------------
// Requests (ClientMessage members).

export class SessionConfigMsg {
  level: TraceLevel = TraceLevel.NODE;
  structure: boolean = false;
  sched: boolean = false;
  counters: string[] = [];
  moe: boolean = false;
}

export enum ClientKind {
  HELLO = 2,
  START = 3,
  STOP = 4,
  STATUS = 5,
  SET_LEVEL = 6,
  LIST = 7,
  DELETE = 9,
  MARK = 11
}

/** One request. Only the members its kind names are encoded. */
export class ClientMessage {
  requestId: number = 0;
  kind: ClientKind = ClientKind.STATUS;
  // Hello
  protocolVersion: number = PROTOCOL_VERSION;
  authToken: string = '';
  clientName: string = '';
  // StartSession: pid > 0, or a process name to wait for
  pid: number = 0;
  processName: string = '';
  config: SessionConfigMsg | undefined = undefined;
  // StopSession, SetLevel
  sessionId: string = '';
  level: TraceLevel = TraceLevel.UNSPECIFIED;
  // DeleteTrace, MarkTrace
  traceId: string = '';
  marked: boolean = false;
}

function encodeConfig(c: SessionConfigMsg): Uint8Array {
  // SessionConfig: level 1, structure 2, sched 3, counters 4, moe 5.
  return new ProtoWriter().uint(1, c.level).bool(2, c.structure).bool(3, c.sched)
    .repeatedString(4, c.counters).bool(5, c.moe).finish();
}

function encodeBody(m: ClientMessage): Uint8Array {
  const w = new ProtoWriter();
  switch (m.kind) {
    case ClientKind.HELLO:
      return w.uint(1, m.protocolVersion).string(2, m.authToken).string(3, m.clientName).finish();
    case ClientKind.START:
      if (m.pid > 0) {
        w.uint(1, m.pid);
      } else {
        // A oneof member is written even when empty: the server needs a target.
        w.bytesField(2, utf8Encode(m.processName));
      }
      if (m.config !== undefined) {
        w.message(3, encodeConfig(m.config));
      }
      return w.finish();
    case ClientKind.STOP:
      return w.string(1, m.sessionId).finish();
    case ClientKind.STATUS:
    case ClientKind.LIST:
      return w.finish();
    case ClientKind.SET_LEVEL:
      return w.string(1, m.sessionId).uint(2, m.level).finish();
    case ClientKind.DELETE:
      return w.string(1, m.traceId).finish();
    case ClientKind.MARK:
      return w.string(1, m.traceId).bool(2, m.marked).finish();
  }
}

/** ClientMessage bytes: request_id 1, then the member under its field number. */
export function encodeClientMessage(m: ClientMessage): Uint8Array {
  return new ProtoWriter().uint(1, m.requestId).message(m.kind, encodeBody(m)).finish();
}

// ---------------------------------------------------------------------------
// Replies (ServerMessage members).

export class QosSample {
  tsNs: number = 0;
  tokensPerS: number = 0;
  ttftMs: number = 0;
  tpotMs: number = 0;
  level: TraceLevel = TraceLevel.UNSPECIFIED;
  eventsPerS: number = 0;
  lostEvents: number = 0;
}

export class SessionStatusMsg {
  sessionId: string = '';
  traceId: string = '';
  targetPids: number[] = [];
  targetName: string = '';
  level: TraceLevel = TraceLevel.UNSPECIFIED;
  /** "waiting", "running", "stopped" */
  state: string = '';
  qos: QosSample | undefined = undefined;
  bytesWritten: number = 0;
  events: number = 0;
  lostEvents: number = 0;
}

export class TraceEntryMsg {
  traceId: string = '';
  sessionId: string = '';
  target: string = '';
  startUnixNs: number = 0;
  /** 0 while running */
  endUnixNs: number = 0;
  sizeBytes: number = 0;
  /** "running", "complete", "truncated" */
  status: string = '';
  markedForPull: boolean = false;
}

export class HelloReplyMsg {
  protocolVersion: number = 0;
  serverVersion: string = '';
  arch: string = '';
  deviceModel: string = '';
}

export class ServerErrorMsg {
  code: ErrorCode = ErrorCode.UNSPECIFIED;
  message: string = '';
}

export enum ServerKind {
  NONE = 0,
  HELLO = 2,
  ERROR = 3,
  STARTED = 4,
  STATUS = 5,
  TRACES = 6,
  CHUNK = 7,
  QOS = 8,
  ACK = 9,
  /** A member this app does not know (a newer server). */
  UNKNOWN = -1
}

export class ServerMessage {
  requestId: number = 0;
  kind: ServerKind = ServerKind.NONE;
  hello: HelloReplyMsg | undefined = undefined;
  error: ServerErrorMsg | undefined = undefined;
  startedSessionId: string = '';
  startedTraceId: string = '';
  sessions: SessionStatusMsg[] = [];
  traces: TraceEntryMsg[] = [];
  qos: QosSample | undefined = undefined;
}

function decodeQos(b: Uint8Array): QosSample {
  const q = new QosSample();
  const r = new ProtoReader(b);
  while (!r.done()) {
    const t = r.tag();
    const f = t[0];
    const type = t[1];
    if (f === 1) {
      r.expect(f, type, WireType.VARINT);
      q.tsNs = r.varint();
    } else if (f === 2 || f === 3 || f === 4 || f === 6) {
      r.expect(f, type, WireType.FIXED64);
      const v = r.double();
      if (f === 2) {
        q.tokensPerS = v;
      } else if (f === 3) {
        q.ttftMs = v;
      } else if (f === 4) {
        q.tpotMs = v;
      } else {
        q.eventsPerS = v;
      }
    } else if (f === 5) {
      r.expect(f, type, WireType.VARINT);
      q.level = toLevel(r.varint());
    } else if (f === 7) {
      r.expect(f, type, WireType.VARINT);
      q.lostEvents = r.varint();
    } else {
      r.skip(type);
    }
  }
  return q;
}

function decodeSessionStatus(b: Uint8Array): SessionStatusMsg {
  const s = new SessionStatusMsg();
  const r = new ProtoReader(b);
  while (!r.done()) {
    const t = r.tag();
    const f = t[0];
    const type = t[1];
    if (f === 1) {
      r.expect(f, type, WireType.LEN);
      s.sessionId = r.string();
    } else if (f === 2) {
      r.expect(f, type, WireType.LEN);
      s.traceId = r.string();
    } else if (f === 3) {
      r.repeatedUint(type, s.targetPids);
    } else if (f === 4) {
      r.expect(f, type, WireType.LEN);
      s.targetName = r.string();
    } else if (f === 5) {
      r.expect(f, type, WireType.VARINT);
      s.level = toLevel(r.varint());
    } else if (f === 6) {
      r.expect(f, type, WireType.LEN);
      s.state = r.string();
    } else if (f === 7) {
      r.expect(f, type, WireType.LEN);
      s.qos = decodeQos(r.bytes());
    } else if (f === 8 || f === 9 || f === 10) {
      r.expect(f, type, WireType.VARINT);
      const v = r.varint();
      if (f === 8) {
        s.bytesWritten = v;
      } else if (f === 9) {
        s.events = v;
      } else {
        s.lostEvents = v;
      }
    } else {
      r.skip(type);
    }
  }
  return s;
}

function decodeTraceEntry(b: Uint8Array): TraceEntryMsg {
  const e = new TraceEntryMsg();
  const r = new ProtoReader(b);
  while (!r.done()) {
    const t = r.tag();
    const f = t[0];
    const type = t[1];
    if (f === 1 || f === 2 || f === 3 || f === 7) {
      r.expect(f, type, WireType.LEN);
      const v = r.string();
      if (f === 1) {
        e.traceId = v;
      } else if (f === 2) {
        e.sessionId = v;
      } else if (f === 3) {
        e.target = v;
      } else {
        e.status = v;
      }
    } else if (f === 4 || f === 5 || f === 6) {
      r.expect(f, type, WireType.VARINT);
      const v = r.varint();
      if (f === 4) {
        e.startUnixNs = v;
      } else if (f === 5) {
        e.endUnixNs = v;
      } else {
        e.sizeBytes = v;
      }
    } else if (f === 8) {
      r.expect(f, type, WireType.VARINT);
      e.markedForPull = r.bool();
    } else {
      r.skip(type);
    }
  }
  return e;
}

function decodeHelloReply(b: Uint8Array): HelloReplyMsg {
  const h = new HelloReplyMsg();
  const r = new ProtoReader(b);
  while (!r.done()) {
    const t = r.tag();
    const f = t[0];
    const type = t[1];
    if (f === 1) {
      r.expect(f, type, WireType.VARINT);
      h.protocolVersion = r.varint();
    } else if (f === 2 || f === 3 || f === 4) {
      r.expect(f, type, WireType.LEN);
      const v = r.string();
      if (f === 2) {
        h.serverVersion = v;
      } else if (f === 3) {
        h.arch = v;
      } else {
        h.deviceModel = v;
      }
    } else {
      r.skip(type);
    }
  }
  return h;
}

function decodeError(b: Uint8Array): ServerErrorMsg {
  const e = new ServerErrorMsg();
  const r = new ProtoReader(b);
  while (!r.done()) {
    const t = r.tag();
    if (t[0] === 1) {
      r.expect(t[0], t[1], WireType.VARINT);
      e.code = toErrorCode(r.varint());
    } else if (t[0] === 2) {
      r.expect(t[0], t[1], WireType.LEN);
      e.message = r.string();
    } else {
      r.skip(t[1]);
    }
  }
  return e;
}

/** Decodes one ServerMessage; throws WireError on anything malformed. */
export function decodeServerMessage(b: Uint8Array): ServerMessage {
  const m = new ServerMessage();
  const r = new ProtoReader(b);
  while (!r.done()) {
    const t = r.tag();
    const f = t[0];
    const type = t[1];
    if (f === 1) {
      r.expect(f, type, WireType.VARINT);
      m.requestId = r.varint();
      continue;
    }
    if (f < 2 || f > 9) {
      r.skip(type);
      if (m.kind === ServerKind.NONE) {
        m.kind = ServerKind.UNKNOWN;
      }
      continue;
    }
    r.expect(f, type, WireType.LEN);
    const body = r.bytes();
    // oneof: the last member on the wire wins, as in every protobuf runtime.
    m.kind = toServerKind(f);
    if (f === ServerKind.HELLO) {
      m.hello = decodeHelloReply(body);
    } else if (f === ServerKind.ERROR) {
      m.error = decodeError(body);
    } else if (f === ServerKind.STARTED) {
      const r2 = new ProtoReader(body);
      while (!r2.done()) {
        const t2 = r2.tag();
        if (t2[0] === 1 || t2[0] === 2) {
          r2.expect(t2[0], t2[1], WireType.LEN);
          if (t2[0] === 1) {
            m.startedSessionId = r2.string();
          } else {
            m.startedTraceId = r2.string();
          }
        } else {
          r2.skip(t2[1]);
        }
      }
    } else if (f === ServerKind.STATUS) {
      m.sessions = [];
      const r2 = new ProtoReader(body);
      while (!r2.done()) {
        const t2 = r2.tag();
        if (t2[0] === 1) {
          r2.expect(t2[0], t2[1], WireType.LEN);
          m.sessions.push(decodeSessionStatus(r2.bytes()));
        } else {
          r2.skip(t2[1]);
        }
      }
    } else if (f === ServerKind.TRACES) {
      m.traces = [];
      const r2 = new ProtoReader(body);
      while (!r2.done()) {
        const t2 = r2.tag();
        if (t2[0] === 1) {
          r2.expect(t2[0], t2[1], WireType.LEN);
          m.traces.push(decodeTraceEntry(r2.bytes()));
        } else {
          r2.skip(t2[1]);
        }
      }
    } else if (f === ServerKind.QOS) {
      m.qos = decodeQos(body);
    }
    // CHUNK (trace bytes) and ACK carry nothing the app reads.
  }
  return m;
}

function toServerKind(f: number): ServerKind {
  switch (f) {
    case 2: return ServerKind.HELLO;
    case 3: return ServerKind.ERROR;
    case 4: return ServerKind.STARTED;
    case 5: return ServerKind.STATUS;
    case 6: return ServerKind.TRACES;
    case 7: return ServerKind.CHUNK;
    case 8: return ServerKind.QOS;
    case 9: return ServerKind.ACK;
    default: return ServerKind.UNKNOWN;
  }
}

export function toLevel(v: number): TraceLevel {
  switch (v) {
    case 1: return TraceLevel.OFF;
    case 2: return TraceLevel.TOKEN;
    case 3: return TraceLevel.GRAPH;
    case 4: return TraceLevel.NODE;
    default: return TraceLevel.UNSPECIFIED;
  }
}

function toErrorCode(v: number): ErrorCode {
  if (v >= 1 && v <= 8) {
    const codes: ErrorCode[] = [ErrorCode.UNSPECIFIED, ErrorCode.BAD_REQUEST, ErrorCode.UNAUTHENTICATED,
      ErrorCode.VERSION_MISMATCH, ErrorCode.NOT_FOUND, ErrorCode.NOT_ALLOWED, ErrorCode.BUSY, ErrorCode.INTERNAL,
      ErrorCode.TOO_LARGE];
    return codes[v];
  }
  return ErrorCode.UNSPECIFIED;
}

/** The name of a level as the UI shows it. */
export function levelName(l: TraceLevel): string {
  switch (l) {
    case TraceLevel.OFF: return 'off';
    case TraceLevel.TOKEN: return 'token';
    case TraceLevel.GRAPH: return 'graph';
    case TraceLevel.NODE: return 'node';
    default: return '?';
  }
}

export function errorCodeName(c: ErrorCode): string {
  switch (c) {
    case ErrorCode.BAD_REQUEST: return 'bad request';
    case ErrorCode.UNAUTHENTICATED: return 'unauthenticated';
    case ErrorCode.VERSION_MISMATCH: return 'version mismatch';
    case ErrorCode.NOT_FOUND: return 'not found';
    case ErrorCode.NOT_ALLOWED: return 'not allowed';
    case ErrorCode.BUSY: return 'busy';
    case ErrorCode.INTERNAL: return 'internal error';
    case ErrorCode.TOO_LARGE: return 'too large';
    default: return 'error';
  }
}

export { WireError };
