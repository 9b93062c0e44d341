// profinferd serve's trace store: an index from a previous run is outside
// input (bad lines dropped, running traces become truncated, lost files
// adopted), and the size quota removes the oldest finished traces first while
// a session runs, never the running session's trace nor the one that finished
// last.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../host/src/device/control_client.js';
import type { v1 } from '../../host/src/proto.js';
import { type Proc, readTrace } from '../support/collector.js';
import { type Service, killIfAlive, removeDir, sessionStatus, startLlama, startService, waitForBytes, waitUntil } from './service_support.js';

const MIB = 1024 * 1024;
// Seeded in the old format (v1): it must still load; the service rewrites it as v2.
const HEADER_V1 = '# profinfer trace index v1: trace_id session_id status start_unix_ns end_unix_ns size_bytes target';
const HEADER = '# profinfer trace index v2: trace_id session_id status start_unix_ns end_unix_ns size_bytes marked target';
// Traces from "a previous run", small enough not to matter for the quota.
const OLD_COMPLETE = '20200101-000000-aaaaaaaaaaaa';
const OLD_RUNNING = '20200101-000001-bbbbbbbbbbbb';
const OLD_MISSING = '20200101-000002-cccccccccccc';
const ORPHAN = '20200101-000003-dddddddddddd';

let svc: Service;
let stateDir: string;
const llamas: Proc[] = [];
let c: ControlClient;
let initial: v1.ITraceEntry[];

function seed(traceDir: string): void {
  mkdirSync(traceDir, { recursive: true, mode: 0o750 });
  for (const id of [OLD_COMPLETE, OLD_RUNNING, ORPHAN]) writeFileSync(join(traceDir, `${id}.pftrace`), Buffer.alloc(1000, 0x0a));
  const line = (id: string, status: string, target = 'pid 1 old') => [id, 's-old', status, '1577836800000000000', '1577836801000000000', '1000', target].join('\t');
  writeFileSync(
    join(traceDir, 'index.tsv'),
    [
      HEADER_V1,
      line(OLD_COMPLETE, 'complete'),
      line(OLD_RUNNING, 'running'),
      line(OLD_MISSING, 'complete'),
      line(OLD_COMPLETE, 'complete'), // duplicate
      line('../../etc/passwd', 'complete'), // an id that is a path
      line('20200101-000004-eeeeeeeeeeee', 'exploded'), // unknown status
      'not\ta\tline',
      `${'x'.repeat(5000)}`, // longer than any line
      line('20200101-000005-ffffffffffff', 'complete', 'tab\tin target'),
      '20200101-000006-000000000000\ts-old\tcomplete\t1\t2\t-5\tnegative size',
      '',
    ].join('\n'),
  );
}

/** Records llama-simple until its trace has `bytes`, then stops the session. */
async function record(bytes: number): Promise<string> {
  const llama = startLlama(1000);
  llamas.push(llama);
  const { sessionId, traceId } = await c.startSession({ pid: llama.pid });
  await waitForBytes(c, sessionId, bytes);
  await c.stopSession(sessionId);
  llama.child.kill('SIGKILL');
  return traceId;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'pi-serve-store-'));
  seed(join(stateDir, 'traces'));
  svc = await startService(['--quota-mib', '1'], stateDir);
  c = await svc.connect();
  initial = await c.listTraces();
}, 60_000);

afterAll(async () => {
  for (const l of llamas) killIfAlive(l);
  c?.close();
  if (svc) await svc.stop();
  removeDir(stateDir);
});

describe('profinferd serve: the index is checked on start', () => {
  it('keeps the valid entries, makes an unfinished one truncated, adopts a lost file', () => {
    const byId = new Map(initial.map((e) => [e.traceId, e]));
    expect(byId.get(OLD_COMPLETE)).toMatchObject({ status: 'complete', target: 'pid 1 old', sessionId: 's-old' });
    expect(byId.get(OLD_RUNNING)?.status).toBe('truncated');
    expect(byId.get(ORPHAN)).toMatchObject({ status: 'truncated', sessionId: 'unknown' });
    expect([...byId.keys()].sort()).toEqual([OLD_COMPLETE, OLD_RUNNING, ORPHAN].sort());
  });

  it('says what it dropped', () => {
    expect(svc.proc.stderr).toMatch(/warning: dropped 7 malformed or duplicate lines of the trace index/);
    expect(svc.proc.stderr).toMatch(new RegExp(`warning: trace ${OLD_MISSING} is indexed but .* is missing`));
    expect(svc.proc.stderr).toMatch(new RegExp(`warning: adopted .*${ORPHAN}\\.pftrace`));
  });

  it('rewrote the index with only what it keeps', () => {
    const lines = readFileSync(join(svc.traceDir, 'index.tsv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines.slice(1).map((l) => l.split('\t')[0]).sort()).toEqual([OLD_COMPLETE, OLD_RUNNING, ORPHAN].sort());
  });

  it('marks a trace for the next pull, in the listing and in the index', async () => {
    await c.markTrace(OLD_COMPLETE);
    expect((await c.listTraces()).find((e) => e.traceId === OLD_COMPLETE)?.markedForPull).toBe(true);
    const row = readFileSync(join(svc.traceDir, 'index.tsv'), 'utf8').split('\n').find((l) => l.startsWith(OLD_COMPLETE));
    expect(row?.split('\t')[6]).toBe('1');
    await c.markTrace(OLD_COMPLETE, false);
    expect((await c.listTraces()).find((e) => e.traceId === OLD_COMPLETE)?.markedForPull).toBeFalsy();
    await expect(c.markTrace('20990101-000000-zzzzzzzzzzzz')).rejects.toThrow(/no trace/);
  });
});

describe('profinferd serve: size quota', () => {
  let first: string;
  let second: string;
  let running: { sessionId: string; traceId: string };
  let whileRunning: v1.ITraceEntry[];
  let afterStop: v1.ITraceEntry[];

  beforeAll(async () => {
    first = await record(300_000);
    second = await record(300_000);
    const llama = startLlama(1000);
    llamas.push(llama);
    running = await c.startSession({ pid: llama.pid });
    // The running trace alone grows past the quota: everything older goes,
    // except the trace that finished last.
    await waitForBytes(c, running.sessionId, 1.2 * MIB, 60_000);
    await waitUntil(async () => !(await c.listTraces()).some((e) => e.traceId === first), 'the quota removed the first trace', 10_000);
    whileRunning = await c.listTraces();
    await c.stopSession(running.sessionId);
    await waitUntil(async () => !(await c.listTraces()).some((e) => e.traceId === second), 'the quota removed the second trace', 10_000);
    afterStop = await c.listTraces();
  }, 120_000);

  it('removes the oldest finished traces while a session runs, never the running one', () => {
    const ids = whileRunning.map((e) => e.traceId);
    expect(ids).not.toContain(OLD_COMPLETE);
    expect(ids).not.toContain(ORPHAN);
    expect(ids).not.toContain(OLD_RUNNING);
    expect(ids).not.toContain(first);
    expect(whileRunning.find((e) => e.traceId === running.traceId)?.status).toBe('running');
    expect(Number(whileRunning.find((e) => e.traceId === running.traceId)?.sizeBytes)).toBeGreaterThan(MIB);
    // The last finished trace stays, so it can still be pulled.
    expect(ids).toContain(second);
    expect(existsSync(join(svc.traceDir, `${first}.pftrace`))).toBe(false);
    expect(svc.proc.stderr).toMatch(new RegExp(`quota 1\\.0 MiB exceeded .*: removing the oldest trace ${first}`));
  });

  it('keeps the running trace whole: it ends complete and readable, bigger than the quota', async () => {
    expect(afterStop.map((e) => e.traceId)).toEqual([running.traceId]);
    expect(afterStop[0]?.status).toBe('complete');
    const t = await readTrace(join(svc.traceDir, `${running.traceId}.pftrace`));
    expect(t.error).toBeUndefined();
    expect(t.sessionEnd?.reason).toBe('client stop');
    expect((await sessionStatus(c, running.sessionId))?.state).toBe('stopped');
  });
});
