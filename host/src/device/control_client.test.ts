// ControlClient and the frame splitter against an in-process fake profinferd:
// framing split anywhere, replies matched by request id, typed errors, the
// client-side version check, and trace streams that check their offsets.
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientMessage, ErrorCode, ServerMessage, type v1 } from '../proto.js';
import { ControlClient, ControlConnectionError, ControlError, ControlVersionError, PROTOCOL_VERSION } from './control_client.js';
import { ControlFrameError, FrameSplitter, MAX_CLIENT_FRAME_BYTES, encodeFrame, encodeVarint } from './control_frame.js';

describe('FrameSplitter', () => {
  const bodies = [new Uint8Array(0), Uint8Array.from([1, 2, 3]), new Uint8Array(300).fill(7), new Uint8Array(20_000).fill(9)];
  const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));

  it('gives back every frame whatever the chunking, even inside a length', () => {
    for (const size of [1, 2, 3, 7, 128, 129, 4096, stream.length]) {
      const s = new FrameSplitter();
      const out: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...s.push(stream.subarray(i, i + size)));
      expect(out.map((b) => Buffer.from(b).toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
      expect(s.pending).toBe(0);
    }
  });

  it('refuses a length over the limit as soon as it is known', () => {
    const s = new FrameSplitter(1000);
    expect(() => s.push(encodeVarint(1001))).toThrow(ControlFrameError);
    expect(() => new FrameSplitter(1000).push(encodeVarint(100_000).subarray(0, 2))).toThrow(/exceeds the limit of 1000/);
  });

  it('refuses a length that is not a varint', () => {
    expect(() => new FrameSplitter().push(new Uint8Array(10).fill(0x80))).toThrow(/not a valid varint/);
  });

  it('encodes varints as protobuf does', () => {
    expect([...encodeVarint(0)]).toEqual([0]);
    expect([...encodeVarint(300)]).toEqual([0xac, 0x02]);
    expect([...encodeVarint(2 ** 35)]).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(() => encodeVarint(-1)).toThrow(RangeError);
  });
});

/** A uint64 field's value as protobufjs types it. */
const u64 = (n: number): protobuf.Long => new protobuf.util.Long(n, 0, true);

/** A fake profinferd: `answer` gets each request and the socket to reply on. */
type Answer = (m: v1.ClientMessage, reply: (r: v1.IServerMessage) => void, socket: Socket) => void;

let server: Server | undefined;
const received: v1.ClientMessage[] = [];

async function fake(answer: Answer): Promise<number> {
  received.length = 0;
  server = createServer((socket) => {
    const splitter = new FrameSplitter(MAX_CLIENT_FRAME_BYTES);
    socket.on('data', (d) => {
      for (const body of splitter.push(d)) {
        const m = ClientMessage.decode(body);
        received.push(m);
        answer(m, (r) => socket.write(encodeFrame(ServerMessage.encode(r).finish())), socket);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return (server?.address() as AddressInfo).port;
}

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const helloOk: Answer = (m, reply) => {
  if (m.hello) reply({ requestId: m.requestId, hello: { protocolVersion: PROTOCOL_VERSION, serverVersion: 'fake', arch: 'x86_64' } });
};

describe('ControlClient', () => {
  it('says Hello with the protocol version, the token and its name', async () => {
    const port = await fake(helloOk);
    const c = await ControlClient.connect({ endpoint: { port }, token: 'secret', clientName: 'unit' });
    expect(received[0]?.hello).toMatchObject({ protocolVersion: PROTOCOL_VERSION, authToken: 'secret', clientName: 'unit' });
    expect(c.hello.serverVersion).toBe('fake');
    c.close();
  });

  it('refuses a server of another protocol version', async () => {
    const port = await fake((m, reply) => reply({ requestId: m.requestId, hello: { protocolVersion: 2, serverVersion: '9.9.9' } }));
    const e = await ControlClient.connect({ endpoint: { port }, token: 't' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlVersionError);
    expect((e as Error).message).toBe('profinferd 9.9.9 speaks control protocol 2, this client speaks 1: use a profinfer-host of the same release');
  });

  it('turns an Error into a ControlError with its code', async () => {
    const port = await fake((m, reply) => reply({ requestId: m.requestId, error: { code: ErrorCode.ERROR_CODE_UNAUTHENTICATED, message: 'wrong auth token' } }));
    const e = await ControlClient.connect({ endpoint: { port }, token: 't' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlError);
    expect(e).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHENTICATED, message: 'ERROR_CODE_UNAUTHENTICATED: wrong auth token' });
  });

  it('matches replies to requests by id, in whatever order they come', async () => {
    let held: ((r: v1.IServerMessage) => void) | undefined;
    let heldId: v1.ClientMessage['requestId'] | undefined;
    const port = await fake((m, reply) => {
      if (m.hello) return helloOk(m, reply, undefined as never);
      if (m.status) {
        held = reply; // answered after the next request
        heldId = m.requestId;
        return;
      }
      reply({ requestId: m.requestId, traces: { traces: [{ traceId: 't1', status: 'complete' }] } });
      held?.({ requestId: heldId, status: { sessions: [{ sessionId: 's1', state: 'running' }] } });
    });
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    const [status, traces] = await Promise.all([c.status(), c.listTraces()]);
    expect(status.map((s) => s.sessionId)).toEqual(['s1']);
    expect(traces.map((t) => t.traceId)).toEqual(['t1']);
    const ids = received.map((m) => Number(m.requestId));
    expect(new Set(ids).size).toBe(ids.length);
    c.close();
  });

  it('streams chunks from the requested offset to eof, in one or many frames', async () => {
    const port = await fake((m, reply, socket) => {
      if (m.hello) return helloOk(m, reply, socket);
      const id = m.requestId;
      reply({ requestId: id, ack: {} });
      // Two chunks and the eof written at once: they arrive in one read.
      const frames = [
        { requestId: id, chunk: { traceId: 't', offset: u64(100), data: Uint8Array.from([1, 2, 3]) } },
        { requestId: id, chunk: { traceId: 't', offset: u64(103), data: Uint8Array.from([4]) } },
        { requestId: id, chunk: { traceId: 't', offset: u64(104), data: new Uint8Array(0), eof: true } },
      ].map((f) => encodeFrame(ServerMessage.encode(f).finish()));
      socket.write(Buffer.concat(frames));
    });
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    const s = await c.subscribe('s1', 100);
    await s.done;
    expect(Number(received[1]?.subscribe?.offset)).toBe(100);
    expect([...s.bytes()]).toEqual([1, 2, 3, 4]);
    expect(s.offset).toBe(104);
    c.close();
  });

  it('hands QoS samples under a Subscribe to its stream, between chunks', async () => {
    const port = await fake((m, reply) => {
      if (m.hello) return helloOk(m, reply, undefined as never);
      const id = m.requestId;
      reply({ requestId: id, ack: {} });
      reply({ requestId: id, chunk: { traceId: 't', offset: u64(0), data: Uint8Array.from([1]) } });
      reply({ requestId: id, qos: { tokensPerS: 12.5, level: 3 } });
      reply({ requestId: id, chunk: { traceId: 't', offset: u64(1), data: Uint8Array.from([2]), eof: true } });
    });
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    const seen: number[] = [];
    const s = await c.subscribe('s1', 0, { onQos: (q) => seen.push(q.tokensPerS ?? 0) });
    await s.done;
    expect(seen).toEqual([12.5]);
    expect(s.lastQos?.level).toBe(3);
    expect([...s.bytes()]).toEqual([1, 2]);
    c.close();
  });

  it('gives a listener registered after the Ack the chunks that came with it', async () => {
    const port = await fake((m, reply, socket) => {
      if (m.hello) return helloOk(m, reply, socket);
      const id = m.requestId;
      const frames = [
        { requestId: id, ack: {} },
        { requestId: id, chunk: { traceId: 't', offset: u64(0), data: Uint8Array.from([1, 2]) } },
        { requestId: id, chunk: { traceId: 't', offset: u64(2), data: Uint8Array.from([3]), eof: true } },
      ].map((f) => encodeFrame(ServerMessage.encode(f).finish()));
      socket.write(Buffer.concat(frames)); // one read: the Ack and every chunk
    });
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    const s = await c.subscribe('s1', 0, { keep: false });
    const got: number[] = [];
    s.onChunk((ch) => got.push(...ch.data));
    await s.done;
    expect(got).toEqual([1, 2, 3]);
    c.close();
  });

  it('fails a stream whose chunks skip bytes', async () => {
    const port = await fake((m, reply) => {
      if (m.hello) return helloOk(m, reply, undefined as never);
      reply({ requestId: m.requestId, ack: {} });
      reply({ requestId: m.requestId, chunk: { traceId: 't', offset: u64(0), data: Uint8Array.from([1]) } });
      reply({ requestId: m.requestId, chunk: { traceId: 't', offset: u64(5), data: Uint8Array.from([2]) } });
    });
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    const s = await c.fetch('t');
    await expect(s.done).rejects.toThrow('trace t: chunk at offset 5, expected 1: bytes were lost');
    c.close();
  });

  it('fails pending requests and streams when the connection closes, keeping the offset to resume from', async () => {
    const port = await fake((m, reply, socket) => {
      if (m.hello) return helloOk(m, reply, socket);
      reply({ requestId: m.requestId, ack: {} });
      reply({ requestId: m.requestId, chunk: { traceId: 't', offset: u64(0), data: new Uint8Array(10) } });
      setTimeout(() => socket.destroy(), 20);
    });
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    const s = await c.subscribe('s1');
    await expect(s.done).rejects.toBeInstanceOf(ControlConnectionError);
    expect(s.offset).toBe(10);
    await expect(c.status()).rejects.toBeInstanceOf(ControlConnectionError);
  });

  it('refuses to send a request larger than profinferd accepts', async () => {
    const port = await fake(helloOk);
    const c = await ControlClient.connect({ endpoint: { port }, token: 't' });
    await expect(c.request({ hello: { authToken: 'x'.repeat(MAX_CLIENT_FRAME_BYTES) } })).rejects.toThrow(/exceeds profinferd's limit/);
    c.close();
  });

  it('says how to start the service when nothing listens', async () => {
    const port = await fake(helloOk);
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    await expect(ControlClient.connect({ endpoint: { port }, token: 't' })).rejects.toThrow(/is `profinferd serve` running\?/);
  });
});
