// profinferd serve against hostile clients: wrong tokens, another protocol
// version, requests before Hello, malformed, oversized, truncated and empty
// frames, ids that try to be paths, processes the --allow rules refuse, and
// a non-loopback --listen. Each is answered with an Error (and the connection
// kept or closed on purpose), and afterwards a new client still records a
// whole session.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient, ControlError, PROTOCOL_VERSION } from '../../host/src/device/control_client.js';
import { FrameSplitter, encodeFrame, encodeVarint } from '../../host/src/device/control_frame.js';
import { ClientMessage, ErrorCode, ServerMessage, type TraceLevel, type v1 } from '../../host/src/proto.js';
import { Proc, readTrace, requireTool } from '../support/collector.js';
import { type Service, killIfAlive, removeDir, runServe, startLlama, startService, waitUntil } from './service_support.js';

let svc: Service;
const llamas: Proc[] = [];

beforeAll(async () => {
  // Only root's processes and nothing else: a uid rule the tests can satisfy
  // (they run as root) and an exe rule that matches nothing.
  svc = await startService(['--allow', 'uid:0', '--allow', 'exe:/nonexistent/dir/']);
}, 60_000);

afterAll(async () => {
  for (const l of llamas) killIfAlive(l);
  if (svc?.proc.child.exitCode === null) await svc.stop();
  removeDir(svc?.stateDir);
});

/** A raw connection: what the service answers to the bytes we send, and whether it closed. */
class Raw {
  readonly socket: Socket;
  readonly replies: ServerMessage[] = [];
  closed = false;
  readonly #splitter = new FrameSplitter();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      for (const body of this.#splitter.push(d)) this.replies.push(ServerMessage.decode(body));
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** A ClientMessage with a plain-number request id. */
  sendMsg(m: Omit<v1.IClientMessage, 'requestId'> & { requestId?: number }): void {
    const requestId = new protobuf.util.Long(m.requestId ?? 0, 0, true);
    this.send(encodeFrame(ClientMessage.encode(ClientMessage.create({ ...m, requestId })).finish()));
  }

  hello(token = svc.token, protocolVersion = PROTOCOL_VERSION): void {
    this.sendMsg({ requestId: 1, hello: { protocolVersion, authToken: token, clientName: 'raw' } });
  }

  async reply(n: number): Promise<ServerMessage> {
    await waitUntil(() => this.replies.length >= n || this.closed, `reply ${n}`, 10_000, 5);
    const r = this.replies[n - 1];
    if (!r) throw new Error(`connection closed after ${this.replies.length} replies`);
    return r;
  }

  async waitClosed(): Promise<void> {
    await waitUntil(() => this.closed, 'the service closes the connection', 10_000, 5);
  }
}

function errorOf(m: ServerMessage): { code: ErrorCode; message: string } {
  expect(m.msg).toBe('error');
  return { code: m.error?.code ?? ErrorCode.ERROR_CODE_UNSPECIFIED, message: m.error?.message ?? '' };
}

describe('profinferd serve: authentication and versions', () => {
  it('creates the token file 0640, owned by root', () => {
    const st = statSync(svc.tokenFile);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.uid).toBe(0);
    expect(svc.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the token file the --token-group, and refuses a token file others can read', async () => {
    const dir = join(svc.stateDir, 'grouped');
    const other = await startService(['--token-group', 'daemon', '--unix', 'none'], dir);
    const st = statSync(other.tokenFile);
    await other.stop();
    expect(st.gid).toBe(Number(/^daemon:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))?.[1]));
    expect(st.mode & 0o777).toBe(0o640);
    chmodSync(other.tokenFile, 0o644);
    const r = await runServe(['--foreground', '--state-dir', dir, '--listen', '127.0.0.1:0', '--unix', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: refusing the auth token file .* mode 0640 or stricter \(it is uid 0, mode 0644\); remove it/);
  });

  it('refuses a wrong token with UNAUTHENTICATED and closes', async () => {
    const e = await ControlClient.connect({ endpoint: { port: svc.port }, token: 'f'.repeat(64) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlError);
    expect((e as ControlError).code).toBe(ErrorCode.ERROR_CODE_UNAUTHENTICATED);
    expect((e as ControlError).message).toMatch(/wrong auth token: read it from .*auth_token/);
  });

  it('refuses an empty token and a token that is a prefix of the right one', async () => {
    for (const token of ['', svc.token.slice(0, 63)]) {
      const e = await ControlClient.connect({ endpoint: { port: svc.port }, token }).catch((x: unknown) => x);
      expect((e as ControlError).code).toBe(ErrorCode.ERROR_CODE_UNAUTHENTICATED);
    }
  });

  it('refuses another protocol version with VERSION_MISMATCH naming both versions', async () => {
    const e = await ControlClient.connect({ endpoint: { port: svc.port }, token: svc.token, protocolVersion: 2 }).catch((x: unknown) => x);
    expect((e as ControlError).code).toBe(ErrorCode.ERROR_CODE_VERSION_MISMATCH);
    expect((e as ControlError).message).toMatch(/client speaks control protocol 2, this profinferd .* speaks 1/);
  });

  it('answers any request before Hello with UNAUTHENTICATED and closes the connection', async () => {
    const r = await Raw.open(svc.port);
    r.sendMsg({ requestId: 7, list: {} });
    const m = await r.reply(1);
    expect(Number(m.requestId)).toBe(7);
    expect(errorOf(m)).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHENTICATED, message: expect.stringMatching(/ListTraces before Hello/) });
    await r.waitClosed();
  });

  it('accepts a client on the Unix socket too', async () => {
    const c = await ControlClient.connect({ endpoint: { unixPath: svc.unixPath }, token: svc.token });
    expect(c.hello.protocolVersion).toBe(PROTOCOL_VERSION);
    expect(await c.status()).toEqual([]);
    c.close();
    expect(statSync(svc.unixPath).mode & 0o777).toBe(0o600);
  });
});

describe('profinferd serve: malformed frames', () => {
  it('rejects an oversized frame with TOO_LARGE before reading it, and closes', async () => {
    const r = await Raw.open(svc.port);
    r.hello();
    expect((await r.reply(1)).msg).toBe('hello');
    r.send(encodeVarint(1 << 20)); // announces 1 MiB; 64 KiB is the limit
    expect(errorOf(await r.reply(2))).toMatchObject({ code: ErrorCode.ERROR_CODE_TOO_LARGE, message: expect.stringMatching(/1048576 bytes exceeds the limit of 65536/) });
    await r.waitClosed();
  });

  it('rejects a length that is not a varint', async () => {
    const r = await Raw.open(svc.port);
    r.send(new Uint8Array(11).fill(0x80));
    expect(errorOf(await r.reply(1)).code).toBe(ErrorCode.ERROR_CODE_BAD_REQUEST);
    await r.waitClosed();
  });

  it('rejects a frame cut off by the end of the connection, naming how much came', async () => {
    const r = await Raw.open(svc.port);
    const body = ClientMessage.encode({ requestId: new protobuf.util.Long(3, 0, true), hello: { protocolVersion: 1, authToken: svc.token } }).finish();
    const frame = encodeFrame(body);
    r.socket.end(frame.subarray(0, frame.length - 10)); // half-close: we can still read the answer
    expect(errorOf(await r.reply(1))).toMatchObject({
      code: ErrorCode.ERROR_CODE_BAD_REQUEST,
      message: `truncated frame: the connection ended after ${body.length - 10} of ${body.length} bytes`,
    });
    await r.waitClosed();
  });

  it('answers garbage, an empty request, a bad id and a second Hello with BAD_REQUEST and keeps serving the connection', async () => {
    const r = await Raw.open(svc.port);
    r.hello();
    expect((await r.reply(1)).msg).toBe('hello');
    // Field 1 as a length-delimited field whose bytes run past the frame.
    r.send(encodeFrame(Uint8Array.from([0x0a, 0x7f, 0x01, 0x02])));
    expect(errorOf(await r.reply(2))).toMatchObject({ code: ErrorCode.ERROR_CODE_BAD_REQUEST, message: expect.stringMatching(/^malformed ClientMessage/) });
    r.sendMsg({ requestId: 11 }); // no member of the oneof
    const empty = await r.reply(3);
    expect(Number(empty.requestId)).toBe(11);
    expect(errorOf(empty)).toMatchObject({ code: ErrorCode.ERROR_CODE_BAD_REQUEST, message: expect.stringMatching(/empty or unknown request/) });
    r.send(encodeFrame(Uint8Array.from([0xf8, 0x06, 0x01]))); // only an unknown field (111)
    expect(errorOf(await r.reply(4)).code).toBe(ErrorCode.ERROR_CODE_BAD_REQUEST);
    r.sendMsg({ requestId: 12, fetch: { traceId: '../../etc/passwd' } });
    expect(errorOf(await r.reply(5))).toMatchObject({ code: ErrorCode.ERROR_CODE_BAD_REQUEST, message: expect.stringMatching(/FetchTrace.trace_id must be an id/) });
    r.sendMsg({ requestId: 13, delete: { traceId: 'x'.repeat(200) } }); // longer than the schema's 64
    expect(errorOf(await r.reply(6)).message).toMatch(/string overflow|malformed/);
    r.sendMsg({ requestId: 14, start: { processName: '/bin/sh' } });
    expect(errorOf(await r.reply(7)).message).toMatch(/process_name must be a process name/);
    r.sendMsg({ requestId: 15, start: { pid: 1, config: { outputPath: '/etc/shadow' } } });
    expect(errorOf(await r.reply(8)).message).toMatch(/output_path is for `profinferd record`/);
    r.sendMsg({ requestId: 16, setLevel: { sessionId: 's-x', level: 99 as TraceLevel } });
    expect(errorOf(await r.reply(9)).message).toMatch(/SetLevel.level must be/);
    r.hello();
    expect(errorOf(await r.reply(10)).message).toMatch(/already authenticated/);
    // Still served.
    r.sendMsg({ requestId: 20, list: {} });
    const list = await r.reply(11);
    expect(Number(list.requestId)).toBe(20);
    expect(list.msg).toBe('traces');
    expect(r.closed).toBe(false);
    r.socket.destroy();
  });

  it('answers unknown sessions and traces with NOT_FOUND', async () => {
    const c = await svc.connect();
    await expect(c.stopSession('s-nope')).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_NOT_FOUND });
    await expect(c.subscribe('s-nope')).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_NOT_FOUND });
    await expect(c.fetch('nope')).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_NOT_FOUND });
    await expect(c.startSession({ pid: 4_000_000 })).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_NOT_FOUND });
    c.close();
  });
});

describe('profinferd serve: what may be profiled', () => {
  it('refuses a process the --allow rules do not allow, naming why', async () => {
    // The service allows uid 0 and one executable directory: a process of
    // user nobody matches neither.
    const sleeper = new Proc(requireTool('setpriv'), ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '30']);
    try {
      await waitUntil(() => sleeper.pid > 0, 'sleep started');
      await new Promise((r) => setTimeout(r, 100)); // let setpriv exec sleep
      const c = await svc.connect();
      const e = await c.startSession({ pid: sleeper.pid }).catch((x: unknown) => x);
      expect((e as ControlError).code).toBe(ErrorCode.ERROR_CODE_NOT_ALLOWED);
      expect((e as ControlError).message).toMatch(new RegExp(`process ${sleeper.pid} \\(uid 65534, .*sleep\\) is not allowed`));
      c.close();
    } finally {
      sleeper.child.kill('SIGKILL');
    }
  });

  it('refuses a process without llama.cpp code with NOT_FOUND, leaving no trace behind', async () => {
    const c = await svc.connect();
    const before = (await c.listTraces()).length;
    const e = await c.startSession({ pid: process.pid }).catch((x: unknown) => x);
    expect((e as ControlError).code).toBe(ErrorCode.ERROR_CODE_NOT_FOUND);
    expect((e as ControlError).message).toMatch(/has no llama.cpp \/ GGML code mapped/);
    expect((await c.listTraces()).length).toBe(before);
    c.close();
  });

  it('refuses to listen on a non-loopback address without --listen-remote', async () => {
    const r = await runServe(['--foreground', '--state-dir', join(svc.stateDir, 'other'), '--listen', '0.0.0.0:0', '--unix', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: --listen 0\.0\.0\.0:0 is not a loopback address/);
  });
});

describe('profinferd serve: connections that never authenticate', () => {
  it('closes a connection that sends no Hello within 10 s, saying why', async () => {
    const r = await Raw.open(svc.port);
    await waitUntil(() => r.replies.length > 0 || r.closed, 'the Hello timeout', 15_000, 20);
    expect(errorOf(r.replies[0]!)).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHENTICATED, message: expect.stringMatching(/no Hello within 10 s/) });
    await r.waitClosed();
  }, 20_000);

  it('still lets its owner in while 64 silent connections hold every slot: the oldest of them makes room', async () => {
    const silent: Raw[] = [];
    for (let i = 0; i < 64; i++) silent.push(await Raw.open(svc.port));
    try {
      const c = await svc.connect();
      expect(Array.isArray(await c.listTraces())).toBe(true);
      c.close();
      await waitUntil(() => silent[0]!.closed, 'the oldest silent connection is closed', 5_000, 20);
      expect(silent.slice(1).every((r) => !r.closed), 'only the oldest is closed').toBe(true);
      expect(svc.proc.stderr).toMatch(/64 clients: closing the oldest unauthenticated one \(127\.0\.0\.1\) for a new one/);
    } finally {
      for (const r of silent) r.socket.destroy();
    }
  }, 30_000);
});

describe('profinferd serve: still serving after all that', () => {
  it('records a whole session for a new client', async () => {
    const c = await svc.connect();
    const llama = startLlama(400);
    llamas.push(llama);
    const { sessionId, traceId } = await c.startSession({ pid: llama.pid }, { level: 3 /* graph */ });
    const stream = await c.subscribe(sessionId);
    await waitUntil(() => stream.offset > 2000, 'some bytes streamed', 60_000);
    await c.stopSession(sessionId);
    await stream.done;
    const path = join(svc.traceDir, `${traceId}.pftrace`);
    const t = await readTrace(path);
    expect(t.error).toBeUndefined();
    expect(t.graphs.length).toBeGreaterThan(0);
    expect(t.sessionEnd?.reason).toBe('client stop');
    expect(stream.offset).toBe(statSync(path).size);
    expect(svc.proc.child.exitCode).toBeNull();
    c.close();
  });

  it('stops cleanly on SIGTERM (exit 0; a sanitizer build would report leaks here)', async () => {
    expect(await svc.stop()).toBe(0);
    expect(svc.proc.stderr).toMatch(/^profinferd: terminated: stopping every session$/m);
    expect(svc.proc.stderr).not.toMatch(/AddressSanitizer|LeakSanitizer|runtime error/);
  });
});
