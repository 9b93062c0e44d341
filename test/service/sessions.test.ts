// profinferd serve with real clients on a real session of llama-simple:
// two clients on one session, a subscriber killed mid-stream that reconnects
// and resumes from its offset (its bytes equal the stored file), fetch from an
// offset, list and delete, and the index surviving a restart of the service.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError, type ControlClient, type TraceStream } from '../../host/src/device/control_client.js';
import { ErrorCode } from '../../host/src/proto.js';
import { type DecodedTrace, type Proc, readTrace } from '../support/collector.js';
import { type Service, killIfAlive, removeDir, sessionStatus, startLlama, startService, waitUntil } from './service_support.js';

/** Enough tokens that the target is still decoding when the test stops the session. */
const TOKENS = 900;

let svc: Service;
let llama: Proc;
let a: ControlClient; // starts and stops the session
let b: ControlClient; // streams it
let sessionId: string;
let traceId: string;
let stored: Buffer;
let trace: DecodedTrace;
let bStream: TraceStream;
/** The subscriber that is killed: what it had, and its resumed stream. */
let killedAt = 0;
let firstPart: Uint8Array;
let resumed: TraceStream;

beforeAll(async () => {
  svc = await startService();
  a = await svc.connect({ clientName: 'starter' });
  b = await svc.connect({ clientName: 'streamer' });
  llama = startLlama(TOKENS);
  ({ sessionId, traceId } = await a.startSession({ pid: llama.pid }));

  // b sees the session a started, and streams it from the start.
  const seen = (await b.status()).find((s) => s.sessionId === sessionId);
  expect(seen?.state).toBe('running');
  bStream = await b.subscribe(sessionId, 0);

  // A third client subscribes, is killed after some bytes, and reconnects.
  const c = await svc.connect({ clientName: 'killed' });
  const cStream = await c.subscribe(sessionId, 0);
  await waitUntil(() => cStream.offset >= 40_000, 'the killed client has 40 kB', 60_000, 10);
  c.destroy();
  firstPart = cStream.bytes();
  killedAt = cStream.offset;
  const c2 = await svc.connect({ clientName: 'reconnected' });
  resumed = await c2.subscribe(sessionId, killedAt);

  // Let the session run on a while after the reconnect, then stop it.
  await waitUntil(async () => Number((await sessionStatus(a, sessionId))?.bytesWritten ?? 0) >= killedAt + 100_000, 'the session wrote 100 kB more', 60_000);
  expect(llama.child.exitCode, 'the target finished before the stop: raise TOKENS').toBeNull();
  await a.stopSession(sessionId);
  await Promise.all([bStream.done, resumed.done]);
  c2.close();
  stored = readFileSync(join(svc.traceDir, `${traceId}.pftrace`));
  trace = await readTrace(join(svc.traceDir, `${traceId}.pftrace`));
}, 180_000);

afterAll(async () => {
  killIfAlive(llama);
  a?.close();
  b?.close();
  if (svc) await svc.stop();
  removeDir(svc?.stateDir);
});

describe('profinferd serve: one session, several clients', () => {
  it('records a whole trace of the target that ends with the client stop', () => {
    expect(trace.error).toBeUndefined();
    expect(trace.session?.sessionId).toBe(sessionId);
    expect(trace.tokens.length).toBeGreaterThan(5);
    expect(trace.sessionEnd?.reason).toBe('client stop');
    expect(trace.processes.map((p) => p.pid)).toContain(llama.pid);
  });

  it('streams to the client that did not start the session every byte of the file', () => {
    expect(bStream.offset).toBe(stored.length);
    expect(Buffer.from(bStream.bytes()).equals(stored)).toBe(true);
  });

  it('resumes a killed client from its offset: the reassembled bytes equal the file', () => {
    expect(killedAt).toBeGreaterThanOrEqual(40_000);
    expect(killedAt).toBeLessThan(stored.length);
    expect(resumed.startOffset).toBe(killedAt);
    const whole = Buffer.concat([firstPart, resumed.bytes()]);
    expect(whole.length).toBe(stored.length);
    expect(whole.equals(stored)).toBe(true);
  });

  it('shows the stopped session with its final counts to every client', async () => {
    const s = await sessionStatus(b, sessionId);
    expect(s?.state).toBe('stopped');
    expect(s?.traceId).toBe(traceId);
    expect(Number(s?.bytesWritten)).toBe(stored.length);
    expect(Number(s?.events)).toBeGreaterThan(0);
    expect(Number(s?.lostEvents ?? 0)).toBe(0);
  });

  it('lists the trace as complete, with its size and target', async () => {
    const e = (await b.listTraces()).find((t) => t.traceId === traceId);
    expect(e).toMatchObject({ sessionId, status: 'complete', target: `pid ${llama.pid} llama-simple` });
    expect(Number(e?.sizeBytes)).toBe(stored.length);
    expect(Number(e?.endUnixNs)).toBeGreaterThan(Number(e?.startUnixNs));
  });

  it('fetches the stored trace from an offset', async () => {
    const from = 12_345;
    const bytes = await b.fetchAll(traceId, from);
    expect(Buffer.from(bytes).equals(stored.subarray(from))).toBe(true);
    expect(Buffer.from(await b.fetchAll(traceId, 0)).equals(stored)).toBe(true);
    // At the end: nothing but eof. Beyond it: an error.
    expect((await b.fetchAll(traceId, stored.length)).length).toBe(0);
    await expect(b.fetch(traceId, stored.length + 1)).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_BAD_REQUEST });
  });

  it('keeps the index across a restart of the service', async () => {
    a.close();
    b.close();
    await svc.stop();
    svc = await startService([], svc.stateDir);
    a = await svc.connect();
    b = await svc.connect();
    const e = (await a.listTraces()).find((t) => t.traceId === traceId);
    expect(e).toMatchObject({ sessionId, status: 'complete' });
    expect(Number(e?.sizeBytes)).toBe(stored.length);
    expect(Buffer.from(await a.fetchAll(traceId)).equals(stored)).toBe(true);
  });

  it('deletes a trace: gone from the list and the disk, and a second delete is NOT_FOUND', async () => {
    await a.deleteTrace(traceId);
    expect((await b.listTraces()).find((t) => t.traceId === traceId)).toBeUndefined();
    expect(() => readFileSync(join(svc.traceDir, `${traceId}.pftrace`))).toThrow(/ENOENT/);
    const e = await a.deleteTrace(traceId).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlError);
    expect((e as ControlError).code).toBe(ErrorCode.ERROR_CODE_NOT_FOUND);
  });
});
