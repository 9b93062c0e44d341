// The app's hand-written codec (protocol/wire.ts, messages.ts) against
// protobufjs loading proto/profinfer/v1/profinfer.proto itself: every field
// number and wire type the app uses is checked by the schema's own runtime.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  ClientKind, ClientMessage, ErrorCode, PROTOCOL_VERSION, ServerKind, SessionConfigMsg, TraceLevel,
  decodeServerMessage, encodeClientMessage,
} from '../entry/src/main/ets/protocol/messages';
import { ProtoReader, WireError, utf8Decode, utf8Encode } from '../entry/src/main/ets/protocol/wire';

const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/profinfer/v1/profinfer.proto', import.meta.url)));
const PbClient = root.lookupType('profinfer.v1.ClientMessage');
const PbServer = root.lookupType('profinfer.v1.ServerMessage');

function decodeClient(m: ClientMessage): Record<string, unknown> {
  const bytes = encodeClientMessage(m);
  return PbClient.toObject(PbClient.decode(bytes), { longs: Number, enums: Number, defaults: false, oneofs: true });
}

function encodeServer(obj: Record<string, unknown>): Uint8Array {
  const err = PbServer.verify(obj);
  if (err) throw new Error(err);
  return PbServer.encode(PbServer.fromObject(obj)).finish();
}

describe('ClientMessage encoding, checked by protobufjs', () => {
  it('Hello', () => {
    const m = new ClientMessage();
    m.requestId = 300;
    m.kind = ClientKind.HELLO;
    m.authToken = 'ab'.repeat(32);
    m.clientName = 'profinfer ohos-app ✓';
    expect(decodeClient(m)).toEqual({
      requestId: 300, msg: 'hello', hello: { protocolVersion: PROTOCOL_VERSION, authToken: 'ab'.repeat(32), clientName: 'profinfer ohos-app ✓' },
    });
  });

  it('StartSession by pid and by name, with a config', () => {
    const c = new SessionConfigMsg();
    c.level = TraceLevel.GRAPH;
    c.sched = true;
    c.counters = ['page-faults', 'raw:0x11'];
    const m = new ClientMessage();
    m.requestId = 2;
    m.kind = ClientKind.START;
    m.pid = 4194304;
    m.config = c;
    expect(decodeClient(m)).toEqual({
      requestId: 2, msg: 'start', start: { target: 'pid', pid: 4194304, config: { level: 3, sched: true, counters: ['page-faults', 'raw:0x11'] } },
    });
    m.pid = 0;
    m.processName = 'llama-server';
    m.config = undefined;
    expect(decodeClient(m)).toEqual({ requestId: 2, msg: 'start', start: { target: 'processName', processName: 'llama-server' } });
  });

  it('Stop, Status, SetLevel, List, Delete, Mark', () => {
    const cases: [ClientKind, Partial<ClientMessage>, Record<string, unknown>][] = [
      [ClientKind.STOP, { sessionId: 's1' }, { msg: 'stop', stop: { sessionId: 's1' } }],
      [ClientKind.STATUS, {}, { msg: 'status', status: {} }],
      [ClientKind.SET_LEVEL, { sessionId: 's1', level: TraceLevel.TOKEN }, { msg: 'setLevel', setLevel: { sessionId: 's1', level: 2 } }],
      [ClientKind.LIST, {}, { msg: 'list', list: {} }],
      [ClientKind.DELETE, { traceId: 't9' }, { msg: 'delete', delete: { traceId: 't9' } }],
      [ClientKind.MARK, { traceId: 't9', marked: true }, { msg: 'mark', mark: { traceId: 't9', marked: true } }],
      [ClientKind.MARK, { traceId: 't9', marked: false }, { msg: 'mark', mark: { traceId: 't9' } }],
    ];
    for (const [kind, fields, want] of cases) {
      const m = Object.assign(new ClientMessage(), fields);
      m.kind = kind;
      m.requestId = 7;
      expect(decodeClient(m)).toEqual({ requestId: 7, ...want });
    }
  });
});

describe('ServerMessage decoding of protobufjs-encoded replies', () => {
  it('HelloReply and Error', () => {
    const h = decodeServerMessage(encodeServer({ requestId: 1, hello: { protocolVersion: 1, serverVersion: '0.1.0', arch: 'aarch64', deviceModel: 'rk3568' } }));
    expect(h.kind).toBe(ServerKind.HELLO);
    expect(h.requestId).toBe(1);
    expect(h.hello).toEqual({ protocolVersion: 1, serverVersion: '0.1.0', arch: 'aarch64', deviceModel: 'rk3568' });
    const e = decodeServerMessage(encodeServer({ requestId: 5, error: { code: 2, message: 'wrong auth token' } }));
    expect(e.kind).toBe(ServerKind.ERROR);
    expect(e.error).toEqual({ code: ErrorCode.UNAUTHENTICATED, message: 'wrong auth token' });
  });

  it('Status with QoS, packed pids and 64-bit counters', () => {
    const qos = { tsNs: 123456789012345, tokensPerS: 17.25, ttftMs: 812.5, tpotMs: 57.9, level: 4, eventsPerS: 91234.5, lostEvents: 3 };
    const m = decodeServerMessage(encodeServer({
      requestId: 9,
      status: {
        sessions: [
          { sessionId: 's1', traceId: 't1', targetPids: [4242, 99999], targetName: 'llama-simple', level: 4, state: 'running', qos, bytesWritten: 5_000_000_000, events: 77, lostEvents: 3 },
          { sessionId: 's2', targetName: 'llama-cli', level: 2, state: 'waiting' },
        ],
      },
    }));
    expect(m.kind).toBe(ServerKind.STATUS);
    expect(m.sessions).toHaveLength(2);
    expect(m.sessions[0]).toEqual({
      sessionId: 's1', traceId: 't1', targetPids: [4242, 99999], targetName: 'llama-simple', level: TraceLevel.NODE, state: 'running',
      qos, bytesWritten: 5_000_000_000, events: 77, lostEvents: 3,
    });
    expect(m.sessions[1].qos).toBeUndefined();
    expect(m.sessions[1].state).toBe('waiting');
  });

  it('TraceList, SessionStarted, QoS, Ack and a TraceChunk', () => {
    const t = decodeServerMessage(encodeServer({
      requestId: 3,
      traces: { traces: [{ traceId: 't1', sessionId: 's1', target: 'llama-simple', startUnixNs: 1_700_000_000_000_000_000, endUnixNs: 1_700_000_012_500_000_000, sizeBytes: 123456, status: 'complete', markedForPull: true }] },
    }));
    expect(t.traces).toHaveLength(1);
    expect(t.traces[0]).toMatchObject({ traceId: 't1', target: 'llama-simple', sizeBytes: 123456, status: 'complete', markedForPull: true });
    expect(t.traces[0].endUnixNs - t.traces[0].startUnixNs).toBe(12_500_000_000);
    const s = decodeServerMessage(encodeServer({ requestId: 4, started: { sessionId: 's7', traceId: 't7' } }));
    expect([s.kind, s.startedSessionId, s.startedTraceId]).toEqual([ServerKind.STARTED, 's7', 't7']);
    expect(decodeServerMessage(encodeServer({ requestId: 0, qos: { tokensPerS: 3.5 } })).qos?.tokensPerS).toBe(3.5);
    expect(decodeServerMessage(encodeServer({ requestId: 8, ack: {} })).kind).toBe(ServerKind.ACK);
    expect(decodeServerMessage(encodeServer({ requestId: 8, chunk: { traceId: 't', data: new Uint8Array([1, 2, 3]), eof: true } })).kind).toBe(ServerKind.CHUNK);
  });

  it('skips fields it does not know and flags uint64 values it cannot hold exactly', () => {
    // A TraceEntry with an unknown field 15 (varint, fixed32, fixed64, bytes) and size 2^60.
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 2).string('t1');
    w.uint32((15 << 3) | 0).uint64(5);
    w.uint32((15 << 3) | 5).fixed32(1);
    w.uint32((15 << 3) | 1).fixed64(1);
    w.uint32((15 << 3) | 2).bytes(new Uint8Array([9, 9]));
    w.uint32((6 << 3) | 0).uint64(protobuf.util.Long.fromString('1152921504606846976', true));
    const entry = w.finish();
    const list = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(entry).finish();
    const msg = protobuf.Writer.create().uint32(8).uint32(1).uint32((6 << 3) | 2).bytes(list).uint32((42 << 3) | 0).uint32(1).finish();
    const m = decodeServerMessage(msg);
    expect(m.traces[0].traceId).toBe('t1');
    expect(m.traces[0].sizeBytes).toBe(2 ** 60);
    const r = new ProtoReader(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]));
    r.varint();
    expect(r.lossy).toBe(true);
  });

  it('rejects truncated and malformed messages with WireError', () => {
    const good = encodeServer({ requestId: 1, hello: { protocolVersion: 1, serverVersion: '0.1.0' } });
    for (let n = 1; n < good.length; n++) {
      // Cutting inside the hello member must not decode silently as something else.
      let threw = false;
      try {
        decodeServerMessage(good.slice(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
        threw = true;
      }
      if (!threw) expect(n).toBeLessThan(3); // only a cut right after request_id is a valid (empty) message
    }
    expect(() => decodeServerMessage(new Uint8Array([0x12, 0x05, 0x08]))).toThrow(/runs past the end/);
    expect(() => decodeServerMessage(new Uint8Array([0x00]))).toThrow(/field number 0/);
    expect(() => decodeServerMessage(new Uint8Array([0x0a, 0x00]))).toThrow(/wire type 2, expected 0/);
    expect(() => decodeServerMessage(new Uint8Array([0x7f]))).toThrow(/unsupported wire type 7/);
  });
});

describe('UTF-8 without TextEncoder', () => {
  it('matches the platform codec, including surrogate pairs', () => {
    for (const s of ['', 'llama', 'Grüße', '模型推理', 'emoji 🦙 end', '\u0000\u007f\u0080\u07ff\u0800\uffff']) {
      expect(Array.from(utf8Encode(s))).toEqual(Array.from(new TextEncoder().encode(s)));
      expect(utf8Decode(new TextEncoder().encode(s))).toBe(s);
    }
    expect(utf8Decode(new Uint8Array([0xff, 0x41, 0xc3]))).toBe(new TextDecoder().decode(new Uint8Array([0xff, 0x41, 0xc3])));
  });
});
