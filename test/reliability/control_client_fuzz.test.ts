// Property-based fuzzing of the host's control-protocol client (issue 12): what
// a device sends back is outside input too. The frame splitter must rebuild
// every frame however the socket chunks it and refuse impossible lengths; the
// client, facing a server that answers its Hello with arbitrary bytes (or a
// valid HelloReply followed by arbitrary bytes), must end in one of its typed
// errors or a working connection — never an uncaught exception or a hang.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlClient,
  ControlConnectionError,
  ControlError,
  ControlVersionError,
  PROTOCOL_VERSION,
} from '../../host/src/device/control_client.js';
import { ControlFrameError, FrameSplitter, encodeFrame } from '../../host/src/device/control_frame.js';
import { ServerMessage } from '../../host/src/proto.js';

const RUNS = Number(process.env.PROFINFER_FUZZ_RUNS ?? 60);

describe('FrameSplitter', () => {
  it('rebuilds every frame whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.array(fc.nat(400), { maxLength: 30 }), (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map((b) => Buffer.from(encodeFrame(b))));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const s = new FrameSplitter(4096);
        const out: Uint8Array[] = [];
        let last = 0;
        for (const p of [...points, stream.length]) {
          out.push(...s.push(stream.subarray(last, p)));
          last = p;
        }
        expect(out.map((b) => Buffer.from(b).toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
        expect(s.pending).toBe(0);
        return true;
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('refuses a length beyond its limit or an endless varint, and nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          new FrameSplitter(16).push(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ControlFrameError);
        }
        return true;
      }),
      { numRuns: RUNS * 10 },
    );
  });
});

describe('ControlClient against a hostile server', () => {
  let server: Server;
  let port: number;
  /** What the next connection is answered with after the client's Hello. */
  let reply: Uint8Array = new Uint8Array(0);

  beforeAll(async () => {
    server = createServer((sock: Socket) => {
      sock.on('error', () => {});
      sock.once('data', () => {
        sock.end(reply);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => {
    server?.close();
  });

  async function connectWith(bytes: Uint8Array): Promise<unknown> {
    reply = bytes;
    try {
      const c = await ControlClient.connect({ endpoint: { host: '127.0.0.1', port }, token: 'x'.repeat(64), timeoutMs: 2000 });
      c.close();
      return undefined;
    } catch (e) {
      return e;
    }
  }

  const typed = (e: unknown): boolean =>
    e === undefined || e instanceof ControlConnectionError || e instanceof ControlVersionError || e instanceof ControlError;

  it('ends in a typed error (or a connection) for arbitrary replies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const e = await connectWith(bytes);
        expect(typed(e), String(e)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('ends in a typed error for a valid HelloReply followed by garbage, and on a version mismatch', async () => {
    const hello = (v: number) => encodeFrame(ServerMessage.encode({ requestId: 1, hello: { protocolVersion: v, serverVersion: 'fuzz' } }).finish());
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const e = await connectWith(Buffer.concat([hello(PROTOCOL_VERSION), bytes]));
        expect(typed(e), String(e)).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect(await connectWith(hello(PROTOCOL_VERSION + 1))).toBeInstanceOf(ControlVersionError);
  });
});
