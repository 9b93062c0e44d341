// A subscriber that stops reading: profinferd stops feeding it (its output
// is bounded; the trace file is the buffer), the collector and the other
// clients go on unhindered, and when the slow client reads again it gets
// every byte, equal to the stored file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient, TraceStream } from '../../host/src/device/control_client.js';
import type { v1 } from '../../host/src/proto.js';
import type { Proc } from '../support/collector.js';
import { type Service, killIfAlive, removeDir, sessionStatus, startLlama, startService, waitUntil } from './service_support.js';

let svc: Service;
let a: ControlClient;
let slow: ControlClient;
let llama: Proc;
let stream: TraceStream;
let traceId: string;
let final: v1.ISessionStatus | undefined;
let slowestStatusMs = 0;
let receivedWhilePaused = 0;
let rssGrowthKb = 0;

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

beforeAll(async () => {
  svc = await startService();
  a = await svc.connect();
  slow = await svc.connect();
  llama = startLlama(1000);
  let sessionId: string;
  ({ sessionId, traceId } = await a.startSession({ pid: llama.pid }));
  stream = await slow.subscribe(sessionId);
  slow.pause();
  const rss0 = rssKb(svc.proc.pid);
  // The target runs to its end (about 2 MB of trace) while the slow client reads nothing.
  await waitUntil(
    async () => {
      const t0 = performance.now();
      final = await sessionStatus(a, sessionId);
      slowestStatusMs = Math.max(slowestStatusMs, performance.now() - t0);
      return final?.state === 'stopped';
    },
    'the session ends with its target',
    90_000,
    100,
  );
  rssGrowthKb = rssKb(svc.proc.pid) - rss0;
  receivedWhilePaused = stream.offset;
  slow.resume();
  await stream.done;
}, 120_000);

afterAll(async () => {
  killIfAlive(llama);
  a?.close();
  slow?.close();
  if (svc) await svc.stop();
  removeDir(svc?.stateDir);
});

describe('profinferd serve: a slow subscriber', () => {
  it('does not hold up the session or other clients', () => {
    expect(final?.state).toBe('stopped');
    expect(Number(final?.bytesWritten)).toBeGreaterThan(1_500_000);
    expect(Number(final?.lostEvents ?? 0)).toBe(0);
    // Status answered promptly all along (the collector's final drain at
    // the end of a session may take up to 2 s).
    expect(slowestStatusMs).toBeLessThan(2500);
  });

  it('is not sent what it cannot take: the service holds at most its bounded buffer for it', () => {
    // What was already on its way when it paused, no more.
    expect(receivedWhilePaused).toBeLessThan(256 * 1024);
    // 256 KiB of output buffer plus kernel socket buffers, not the 2 MB trace
    // (a sanitizer build's allocator keeps freed memory: RSS says nothing there).
    if (!process.env.PROFINFER_SERVE_BIN) expect(rssGrowthKb).toBeLessThan(1500);
  });

  it('gets every byte once it reads again, equal to the stored file', () => {
    const file = readFileSync(join(svc.traceDir, `${traceId}.pftrace`));
    expect(stream.offset).toBe(file.length);
    expect(Buffer.from(stream.bytes()).equals(file)).toBe(true);
  });
});
