// SetLevel and SessionConfig through profinferd serve: a client lowers and
// restores the level of a running session (the trace records each change and
// Status shows the level in force and live QoS figures), and configurations
// the collector cannot honour are refused with the collector's own reason.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../host/src/device/control_client.js';
import { ErrorCode, TraceLevel, type v1 } from '../../host/src/proto.js';
import { type DecodedTrace, type Proc, readTrace } from '../support/collector.js';
import { type Service, killIfAlive, removeDir, sessionStatus, startLlama, startService, waitForBytes, waitUntil } from './service_support.js';

let svc: Service;
let c: ControlClient;
let llama: Proc;
let sessionId: string;
let atGraph: v1.ISessionStatus | undefined;
let restored: v1.ISessionStatus | undefined;
let trace: DecodedTrace;
/** What a subscriber saw live: QoS samples, and whether its stream ended with the session. */
const live: v1.IQosSample[] = [];
let watcherDone = false;

beforeAll(async () => {
  svc = await startService();
  c = await svc.connect();
  llama = startLlama(1000);
  let traceId: string;
  ({ sessionId, traceId } = await c.startSession({ pid: llama.pid }, { level: TraceLevel.TRACE_LEVEL_NODE }));
  const watcher = await svc.connect({ clientName: 'live view' });
  const ws = await watcher.subscribe(sessionId, 0, { keep: false, onQos: (q) => live.push(q) });
  await waitForBytes(c, sessionId, 100_000);
  await c.setLevel(sessionId, TraceLevel.TRACE_LEVEL_GRAPH);
  const at = Number((await sessionStatus(c, sessionId))?.bytesWritten);
  await waitForBytes(c, sessionId, at + 20_000);
  await waitUntil(() => live.some((q) => q.level === TraceLevel.TRACE_LEVEL_GRAPH), 'a live QoS sample at graph level', 10_000);
  atGraph = await sessionStatus(c, sessionId);
  await c.setLevel(sessionId, TraceLevel.TRACE_LEVEL_NODE);
  const back = Number((await sessionStatus(c, sessionId))?.bytesWritten);
  await waitForBytes(c, sessionId, back + 50_000);
  restored = await sessionStatus(c, sessionId);
  expect(llama.child.exitCode, 'the target finished too early').toBeNull();
  await c.stopSession(sessionId);
  await ws.done;
  watcherDone = true;
  watcher.close();
  trace = await readTrace(join(svc.traceDir, `${traceId}.pftrace`));
}, 120_000);

afterAll(async () => {
  killIfAlive(llama);
  c?.close();
  if (svc) await svc.stop();
  removeDir(svc?.stateDir);
});

describe('profinferd serve: SetLevel', () => {
  it('shows the level in force and live QoS figures in Status', () => {
    expect(atGraph?.level).toBe(TraceLevel.TRACE_LEVEL_GRAPH);
    expect(restored?.level).toBe(TraceLevel.TRACE_LEVEL_NODE);
    expect(restored?.qos?.tokensPerS).toBeGreaterThan(0);
  });

  it('streams live QoS samples to a subscriber, about one a second, with the level in force', () => {
    expect(watcherDone).toBe(true);
    expect(live.length).toBeGreaterThanOrEqual(2);
    const ts = live.map((q) => Number(q.tsNs));
    expect(ts).toEqual([...ts].sort((x, y) => x - y));
    expect(new Set(ts).size).toBe(ts.length);
    expect(live.some((q) => (q.tokensPerS ?? 0) > 0)).toBe(true);
    expect(live.some((q) => q.level === TraceLevel.TRACE_LEVEL_GRAPH)).toBe(true);
  });

  it('records both changes in the trace, made by the client', () => {
    const changes = trace.packets.flatMap((p) => (p.levelChange ? [p.levelChange] : []));
    expect(changes.map((ch) => [ch.fromLevel, ch.toLevel])).toEqual([
      [TraceLevel.TRACE_LEVEL_NODE, TraceLevel.TRACE_LEVEL_GRAPH],
      [TraceLevel.TRACE_LEVEL_GRAPH, TraceLevel.TRACE_LEVEL_NODE],
    ]);
    expect(changes.every((ch) => /client/.test(ch.reason ?? ''))).toBe(true);
    expect(trace.error).toBeUndefined();
  });

  it('refuses levels a session cannot switch to', async () => {
    await expect(c.setLevel(sessionId, TraceLevel.TRACE_LEVEL_GRAPH)).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_NOT_FOUND }); // stopped
    const l2 = startLlama(1000);
    try {
      const s = await c.startSession({ pid: l2.pid }, { level: TraceLevel.TRACE_LEVEL_GRAPH });
      await expect(c.setLevel(s.sessionId, TraceLevel.TRACE_LEVEL_NODE)).rejects.toMatchObject({
        code: ErrorCode.ERROR_CODE_BAD_REQUEST,
        message: expect.stringMatching(/started at a lower level/),
      });
      await expect(c.setLevel(s.sessionId, TraceLevel.TRACE_LEVEL_OFF)).rejects.toMatchObject({ code: ErrorCode.ERROR_CODE_BAD_REQUEST });
      await c.stopSession(s.sessionId);
    } finally {
      killIfAlive(l2);
    }
  });
});

describe('profinferd serve: SessionConfig', () => {
  it("refuses a configuration the collector cannot honour, with the collector's reason", async () => {
    const l3 = startLlama(100);
    try {
      await expect(c.startSession({ pid: l3.pid }, { counters: ['cylces'] })).rejects.toMatchObject({
        code: ErrorCode.ERROR_CODE_BAD_REQUEST,
        message: expect.stringMatching(/counters\[0\]: unknown counter "cylces" \(did you mean "cycles"\?\)/),
      });
      await expect(c.startSession({ pid: l3.pid }, { level: TraceLevel.TRACE_LEVEL_OFF })).rejects.toMatchObject({
        code: ErrorCode.ERROR_CODE_BAD_REQUEST,
      });
      // Nothing was left running or stored by the refusals.
      expect((await c.status()).filter((s) => s.state !== 'stopped')).toEqual([]);
    } finally {
      killIfAlive(l3);
    }
  });
});
