// profinferd serve started on a process name: the session waits, attaches
// when a process of that name appears (found by scanning /proc), records it
// and ends by itself when the target exits.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../host/src/device/control_client.js';
import type { v1 } from '../../host/src/proto.js';
import { type DecodedTrace, Proc, readTrace } from '../support/collector.js';
import { parseSimpleDecoded } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { PROMPT, type Service, killIfAlive, removeDir, sessionStatus, startService, uniqueLlamaName, waitUntil } from './service_support.js';

const TOKENS = 200;

let svc: Service;
let dir: string;
let c: ControlClient;
let target: Proc;
let name: string;
let waiting: v1.ISessionStatus | undefined;
let final: v1.ISessionStatus | undefined;
let trace: DecodedTrace;
let streamed: Uint8Array;

beforeAll(async () => {
  svc = await startService();
  dir = mkdtempSync(join(tmpdir(), 'pi-serve-name-'));
  const link = uniqueLlamaName(dir);
  name = link.name;
  c = await svc.connect();
  const { sessionId, traceId } = await c.startSession({ processName: name });
  const stream = await c.subscribe(sessionId);
  // Nothing of that name runs yet: the session waits.
  await new Promise((r) => setTimeout(r, 300));
  waiting = await sessionStatus(c, sessionId);
  target = new Proc(link.path, ['-m', ensureModel('tiny', 'q8_0'), '-n', String(TOKENS), PROMPT], { timeoutMs: 120_000 });
  await target.done;
  // The target exited: the session ends by itself and the stream with it.
  await stream.done;
  final = await sessionStatus(c, sessionId);
  streamed = stream.bytes();
  trace = await readTrace(join(svc.traceDir, `${traceId}.pftrace`));
}, 120_000);

afterAll(async () => {
  killIfAlive(target);
  c?.close();
  if (svc) await svc.stop();
  removeDir(svc?.stateDir);
  removeDir(dir);
});

describe('profinferd serve: start on a process name', () => {
  it('waits while no process has the name', () => {
    expect(waiting).toMatchObject({ state: 'waiting', targetName: name });
    expect(waiting?.targetPids ?? []).toEqual([]);
  });

  it('attaches to the process when it appears and stops when it exits', () => {
    expect(final).toMatchObject({ state: 'stopped', targetName: name, targetPids: [target.pid] });
    expect(trace.sessionEnd?.reason).toBe('target exited');
    expect(trace.processes.map((p) => p.pid)).toContain(target.pid);
  });

  it('records the target decoding: tokens and graphs, whole, nothing lost', () => {
    expect(trace.error).toBeUndefined();
    const decoded = parseSimpleDecoded(target.stderr);
    expect(decoded, target.stderr.slice(-2000)).toBeDefined();
    // Attaching takes one /proc scan (100 ms) after exec, while the model
    // loads, so it usually sees every token; it must see most of them.
    expect(trace.tokens.length).toBeGreaterThan(TOKENS / 2);
    expect(trace.tokens.length).toBeLessThanOrEqual(TOKENS);
    expect(trace.graphs.length).toBeGreaterThanOrEqual(trace.tokens.length);
    expect(Number(final?.lostEvents ?? 0)).toBe(0);
  });

  it('streamed the whole file to the client that started it', () => {
    const file = readFileSync(join(svc.traceDir, `${final?.traceId}.pftrace`));
    expect(Buffer.from(streamed).equals(file)).toBe(true);
  });
});
