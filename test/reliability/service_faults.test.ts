// profinferd serve under faults: the target of a name session crashes and a new
// process of the same name starts; the trace directory's disk fills up (the
// state directory on a 512 KiB tmpfs). After each: the service still serves
// (Status, ListTraces, a new session), every trace is readable up to its last
// whole packet, none of the service's BPF objects outlives its sessions, and
// its file descriptors after N sessions are those it had before.
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../host/src/device/control_client.js';
import type { v1 } from '../../host/src/proto.js';
import { type BpfObjects, type DecodedTrace, Proc, bpfObjectsOf, readTrace, requireTool } from '../support/collector.js';
import { ensureModel } from '../support/models.js';
import {
  PROMPT, type Service, killIfAlive, removeDir, sessionStatus, startLlama, startService, uniqueLlamaName, waitForBytes, waitUntil,
} from '../service/service_support.js';
import { EventKind, type SmallDisk, bpfLeftBehind, countsOf, fdCount, mountSmallTmpfs } from './fault_support.js';

/** Sessions run back to back to look for a file descriptor leak. */
const N_SESSIONS = 6;

async function waitStopped(c: ControlClient, sessionId: string, timeoutMs = 60_000): Promise<v1.ISessionStatus | undefined> {
  let s: v1.ISessionStatus | undefined;
  await waitUntil(async () => (s = await sessionStatus(c, sessionId))?.state === 'stopped', `session ${sessionId} stopped`, timeoutMs);
  return s;
}

describe('serve: the target of a name session crashes, and a process of that name starts again', () => {
  let svc: Service;
  let dir: string;
  let c: ControlClient;
  let first: Proc;
  let second: Proc;
  let name: string;
  let firstSession: { sessionId: string; traceId: string };
  let afterCrash: v1.ISessionStatus | undefined;
  let afterRestart: v1.ISessionStatus[];
  let firstTrace: DecodedTrace;
  let secondSession: { sessionId: string; traceId: string };
  let secondTrace: DecodedTrace;
  let held: BpfObjects;
  let fdsBefore: number;
  let fdsAfter: number;
  let progsAfter: BpfObjects;

  beforeAll(async () => {
    requireTool('bpftool');
    svc = await startService();
    fdsBefore = fdCount(svc.proc.pid);
    dir = mkdtempSync(join(tmpdir(), 'pi-rel-name-'));
    const link = uniqueLlamaName(dir);
    name = link.name;
    const start = (): Proc => new Proc(link.path, ['-m', ensureModel('tiny', 'q8_0'), '-n', '3000', PROMPT], { timeoutMs: 120_000 });
    c = await svc.connect();
    firstSession = await c.startSession({ processName: name });
    first = start();
    await waitForBytes(c, firstSession.sessionId, 60_000);
    held = bpfObjectsOf(svc.proc.pid);
    first.child.kill('SIGSEGV'); // mid-token: it decodes all the time
    await first.exited;
    afterCrash = await waitStopped(c, firstSession.sessionId);
    // The same name again: a new process.
    second = start();
    await new Promise((r) => setTimeout(r, 500)); // five /proc scans
    afterRestart = await c.status();
    firstTrace = await readTrace(join(svc.traceDir, `${firstSession.traceId}.pftrace`));
    // The service serves on: a new session on the name finds the new process.
    secondSession = await c.startSession({ processName: name });
    await waitForBytes(c, secondSession.sessionId, 20_000);
    await c.stopSession(secondSession.sessionId);
    await waitStopped(c, secondSession.sessionId);
    secondTrace = await readTrace(join(svc.traceDir, `${secondSession.traceId}.pftrace`));
    killIfAlive(second);
    await second.exited;
    // N more sessions on short runs, one after another, for the fd count.
    for (let i = 0; i < N_SESSIONS; i++) {
      const llama = startLlama(3000);
      // Attach once it is loading the model: a process that has not exec'ed yet has no engine to find.
      await llama.waitFor('stderr', /^llama_model_loader: /m, 30_000);
      const { sessionId } = await c.startSession({ pid: llama.pid });
      await waitForBytes(c, sessionId, 20_000, 30_000);
      await c.stopSession(sessionId);
      killIfAlive(llama);
      await llama.exited;
      await waitStopped(c, sessionId);
    }
    c.close();
    await waitUntil(() => fdCount(svc.proc.pid) <= fdsBefore, 'the service closed what its sessions opened', 5_000).catch(() => undefined);
    fdsAfter = fdCount(svc.proc.pid);
    progsAfter = bpfObjectsOf(svc.proc.pid);
    console.info(`serve fds: ${fdsBefore} before, ${fdsAfter} after ${N_SESSIONS + 2} sessions; BPF programs held during a session ${held.progIds.length}, after ${progsAfter.progIds.length}`);
  }, 180_000);

  afterAll(async () => {
    killIfAlive(first);
    killIfAlive(second);
    c?.close();
    if (svc) await svc.stop();
    removeDir(svc?.stateDir);
    removeDir(dir);
  });

  it('ends the session when its target crashes (as documented: a session ends when its target exits)', () => {
    expect(afterCrash).toMatchObject({ state: 'stopped', targetName: name, targetPids: [first.pid] });
    expect(firstTrace.sessionEnd?.reason).toBe('target exited');
  });

  // serve is not the target's parent and cannot wait() for it: the kernel's
  // sched_process_exit (bpf/proc_exit.bpf.c) tells it the status, the same -11
  // that `profinferd record`, the parent, writes for this crash
  // (record_faults.test.ts).
  it('records how the crashed target ended: killed by SIGSEGV (-11), not a clean exit', () => {
    expect(firstTrace.sessionEnd?.targetExitCodeUnknown ?? false).toBe(false);
    expect(firstTrace.sessionEnd?.targetExitCode).toBe(-11);
  });

  it('does not attach the ended session to the new process of the same name', () => {
    const s = afterRestart.find((x) => x.sessionId === firstSession.sessionId);
    expect(s).toMatchObject({ state: 'stopped', targetPids: [first.pid] });
    expect(afterRestart.filter((x) => (x.targetPids ?? []).includes(second.pid))).toEqual([]);
  });

  it('leaves the crashed target\'s trace whole, with its pid only, nothing lost', () => {
    expect(firstTrace.error).toBeUndefined();
    expect(firstTrace.tokens.length).toBeGreaterThan(0);
    expect(new Set(firstTrace.tokens.map((k) => k.pid))).toEqual(new Set([first.pid]));
    expect(firstTrace.processes.map((p) => p.pid)).toEqual([first.pid]);
    for (const kind of [EventKind.EVENT_KIND_TOKEN, EventKind.EVENT_KIND_NODE, EventKind.EVENT_KIND_OUTPUT]) {
      expect(countsOf(firstTrace, kind).lost, EventKind[kind]).toBe(0);
    }
  });

  it('serves on: a new session on the name records the new process, and only it', () => {
    expect(secondTrace.error).toBeUndefined();
    expect(secondTrace.sessionEnd?.reason).toBe('client stop');
    expect(secondTrace.tokens.length).toBeGreaterThan(0);
    expect(new Set(secondTrace.tokens.map((k) => k.pid))).toEqual(new Set([second.pid]));
  });

  it(`holds no BPF object once its sessions ended, and none is left in the kernel`, async () => {
    expect(held.progIds.length, 'the service held no BPF program while recording').toBeGreaterThan(0);
    expect(progsAfter).toEqual({ progIds: [], linkIds: [], mapIds: [] });
    expect(await bpfLeftBehind(held)).toEqual([]);
  });

  it(`leaks no file descriptor over ${N_SESSIONS + 2} sessions`, () => {
    expect(fdsAfter).toBe(fdsBefore);
  });
});

describe('serve: the trace directory\'s disk fills up (state directory on a 512 KiB tmpfs)', () => {
  const TOKENS = 600; // about 1.4 MB of trace at node level
  let disk: SmallDisk;
  let svc: Service;
  let c: ControlClient;
  let llama: Proc;
  let sessionId: string;
  let traceId: string;
  let final: v1.ISessionStatus | undefined;
  let trace: DecodedTrace;

  beforeAll(async () => {
    disk = mountSmallTmpfs(512);
    svc = await startService([], disk.dir);
    c = await svc.connect();
    llama = startLlama(TOKENS);
    ({ sessionId, traceId } = await c.startSession({ pid: llama.pid }));
    await llama.done;
    final = await waitStopped(c, sessionId);
    trace = await readTrace(join(svc.traceDir, `${traceId}.pftrace`));
  }, 120_000);

  afterAll(async () => {
    killIfAlive(llama);
    c?.close();
    if (svc) await svc.stop();
    disk?.unmount();
  });

  it('says in one line of its log that it cannot write the trace, and why', () => {
    const lines = svc.proc.stderr.split('\n').filter((l) => /cannot write the trace/.test(l));
    expect(lines.length, svc.proc.stderr.slice(-3000)).toBe(1);
    expect(lines[0]).toMatch(/No space left on device/);
  });

  it('leaves the trace readable up to its last whole packet, the first tokens in sequence', () => {
    expect(trace.error).toBeUndefined();
    expect(trace.tokens.length).toBeGreaterThan(0);
    expect(trace.tokens.length, 'the disk did not fill: shrink the tmpfs').toBeLessThan(TOKENS);
    expect(trace.tokens.map((k) => Number(k.seq))).toEqual(trace.tokens.map((_, i) => i + 1));
  });

  it('counts in the SessionEnd, where there was room for one, what it could not write (EVENT_KIND_OUTPUT)', () => {
    // Whether the last packets fit depends on the bytes the cut left free: the
    // session status (below) must carry the count either way.
    if (!trace.sessionEnd) return;
    expect(countsOf(trace, EventKind.EVENT_KIND_OUTPUT).lost).toBeGreaterThan(0);
  });

  // BUG (serve_session.c session status): SessionStatus.lost_events = BPF losses +
  // unattributed node rows only; packets dropped for want of disk
  // (EVENT_KIND_OUTPUT) are not in it, so a client sees 0 lost for a cut trace,
  // and when the SessionEnd did not fit either, the count is nowhere.
  it('reports what it could not write in the session status', () => {
    expect(trace.tokens.length).toBeLessThan(TOKENS); // the disk cut the trace: packets were lost
    expect(Number(final?.lostEvents ?? 0)).toBeGreaterThan(0);
    expect(Number(final?.lostEvents ?? 0)).toBeGreaterThanOrEqual(countsOf(trace, EventKind.EVENT_KIND_OUTPUT).lost);
  });

  it('serves on: Status, ListTraces and a new client work on the full disk', async () => {
    expect(final?.state).toBe('stopped');
    const list = await c.listTraces();
    expect(list.map((t) => t.traceId)).toContain(traceId);
    const d = await svc.connect();
    expect((await d.status()).map((s) => s.sessionId)).toContain(sessionId);
    d.close();
    expect(svc.proc.child.exitCode).toBeNull();
  });
});
