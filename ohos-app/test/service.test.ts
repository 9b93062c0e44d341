// The app's models and protocol client (through node_socket.ts) against a real
// `profinferd serve` and a real llama-simple: the error states the UI shows,
// a session started and stopped from the app with live QoS on the dashboard,
// the trace list, delete, mark for pull, and reconnection after the service
// restarts (what EntryAbility.onForeground triggers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModel } from '../entry/src/main/ets/model/app_model';
import { Connection, ConnectionOptions, ConnectionState } from '../entry/src/main/ets/model/connection';
import { TraceLevel } from '../entry/src/main/ets/protocol/messages';
import type { Proc } from '../../test/support/collector.js';
import { type Service, killIfAlive, removeDir, startLlama, startService, uniqueLlamaName, waitUntil } from '../../test/service/service_support.js';
import { NodeControlSocket } from './node_socket';

let svc: Service;
const procs: Proc[] = [];

function connection(port: number, token: string, protocolVersion = 1): Connection {
  const o = Object.assign(new ConnectionOptions(), { port, timeoutMs: 10_000, protocolVersion });
  const c = new Connection(() => new NodeControlSocket(), o);
  c.setToken(token);
  return c;
}

beforeAll(async () => {
  svc = await startService();
}, 120_000);

afterAll(async () => {
  for (const p of procs) killIfAlive(p);
  if (svc) await svc.stop();
  removeDir(svc?.stateDir);
});

describe('ohos-app against profinferd serve', () => {
  it('connects with the token file\'s token and protocol 1', async () => {
    const c = connection(svc.port, svc.token);
    expect(await c.connect(), c.detail).toBe(ConnectionState.CONNECTED);
    expect(c.detail).toMatch(/^profinferd \S+ \(/);
    c.onBackground();
  });

  it('shows "auth failed" for a wrong token and "version mismatch" for another protocol', async () => {
    const wrong = connection(svc.port, svc.token.replace(/.$/, (ch) => (ch === '0' ? '1' : '0')));
    expect(await wrong.connect()).toBe(ConnectionState.AUTH_FAILED);
    expect(wrong.detail).toMatch(/wrong auth token/);
    const v2 = connection(svc.port, svc.token, 2);
    expect(await v2.connect()).toBe(ConnectionState.VERSION_MISMATCH);
    expect(v2.detail).toMatch(/protocol version mismatch/);
  });

  it('records a session started from the app, with QoS on the dashboard, then stops it', async () => {
    const m = new AppModel(connection(svc.port, svc.token));
    await m.connection.connect();
    const llama = startLlama(2000);
    procs.push(llama);
    expect(await m.start(String(llama.pid), TraceLevel.GRAPH, '', false, false), m.message).toBe(true);
    const sessionId = m.qos.focusedSessionId();
    expect(sessionId).not.toBe('');
    // The dashboard shows live decode rates once the target is decoding.
    await waitUntil(async () => (await m.refresh()) && Number(m.qos.view.tokensPerS) > 0 && Number(m.qos.view.eventsPerS) > 0 && m.qos.samples().length >= 2,
      'the dashboard shows tokens/s and a sparkline', 60_000, 250);
    const v = m.qos.view;
    expect(v.state).toBe('running');
    expect(v.target).toContain(`pid ${llama.pid}`);
    expect(Number(v.tpotMs)).toBeGreaterThan(0);
    expect(Number(v.eventsPerS)).toBeGreaterThan(0);
    expect(m.qos.sparklinePath(120, 40)).toMatch(/^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+)+$/);
    expect(m.sessions.find((s) => s.sessionId === sessionId)?.stoppable).toBe(true);
    // A running trace is listed and cannot be deleted.
    const running = m.traces.find((t) => t.duration === 'running');
    expect(running).toBeDefined();
    expect(await m.deleteTrace(running!.traceId)).toBe(false);
    expect(m.message).toMatch(/cannot delete: busy/);

    expect(await m.stop(sessionId), m.message).toBe(true);
    expect(m.sessions.find((s) => s.sessionId === sessionId)?.state).toBe('stopped');
    const done = m.traces.find((t) => t.traceId === running!.traceId);
    expect(done?.status).not.toBe('running');
    expect(done?.size).toMatch(/[KM]iB$/);
    expect(done?.duration).toMatch(/\d+(\.\d)? s|ms|min/);
    m.connection.onBackground();
  }, 120_000);

  it('waits for a process by name and records it once it appears', async () => {
    const m = new AppModel(connection(svc.port, svc.token));
    await m.connection.connect();
    const link = uniqueLlamaName(svc.stateDir);
    expect(await m.start(link.name, TraceLevel.TOKEN, '', false, false), m.message).toBe(true);
    expect(m.message).toMatch(new RegExp(`waiting for a process named ${link.name}`));
    const sessionId = m.qos.focusedSessionId();
    expect(m.sessions.find((s) => s.sessionId === sessionId)?.state).toBe('waiting');
    expect(m.qos.view).toMatchObject({ noSample: true, tokensPerS: '-', eventsPerS: '-' });
    const llama = startLlama(2000, link.path);
    procs.push(llama);
    await waitUntil(async () => (await m.refresh()) && m.sessions.find((s) => s.sessionId === sessionId)?.state === 'running',
      'the name session attaches to the new process', 60_000, 100);
    expect(m.sessions.find((s) => s.sessionId === sessionId)?.target).toContain(`pid ${llama.pid}`);
    expect(await m.stop(sessionId), m.message).toBe(true);
    m.connection.onBackground();
  }, 120_000);

  // Needs MarkTrace (ClientMessage.mark = 11) in profinferd serve.
  it('marks a trace for the next pull and clears the mark', async () => {
    const m = new AppModel(connection(svc.port, svc.token));
    await m.connection.connect();
    await m.refresh();
    const t = m.traces.find((r) => r.deletable);
    expect(t, 'a finished trace from the tests above').toBeDefined();
    expect(await m.markTrace(t!.traceId, true), m.message).toBe(true);
    expect(m.traces.find((r) => r.traceId === t!.traceId)?.marked).toBe(true);
    expect(await m.markTrace(t!.traceId, false), m.message).toBe(true);
    expect(m.traces.find((r) => r.traceId === t!.traceId)?.marked).toBe(false);
    expect(await m.markTrace('no-such-trace', true)).toBe(false);
    expect(m.message).toMatch(/not found/);
    m.connection.onBackground();
  });

  it('deletes a stored trace', async () => {
    const m = new AppModel(connection(svc.port, svc.token));
    await m.connection.connect();
    await m.refresh();
    const t = m.traces.find((r) => r.deletable);
    expect(t, 'a finished trace from the tests above').toBeDefined();
    expect(await m.deleteTrace(t!.traceId), m.message).toBe(true);
    expect(m.traces.find((r) => r.traceId === t!.traceId)).toBeUndefined();
    m.connection.onBackground();
  });

  it('says "no service" while profinferd is down and reconnects on foreground once it is back', async () => {
    const c = connection(svc.port, svc.token);
    expect(await c.connect()).toBe(ConnectionState.CONNECTED);
    const { port, stateDir } = svc;
    await svc.stop();
    await waitUntil(() => c.state === ConnectionState.LOST, 'the app sees the connection lost', 10_000);
    expect(await c.onForeground()).toBe(ConnectionState.NO_SERVICE);
    expect(c.detail).toMatch(/no profinferd at 127\.0\.0\.1:\d+ .*profinferd serve/);
    // Same state directory (same token), same port: the app comes back to the foreground.
    svc = await startService(['--listen', `127.0.0.1:${port}`], stateDir);
    expect(svc.port).toBe(port);
    expect(await c.onForeground(), c.detail).toBe(ConnectionState.CONNECTED);
    c.onBackground();
  }, 120_000);
});
