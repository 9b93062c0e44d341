// `profinferd record --pid`: the collector is not the target's parent and
// cannot wait() for it, yet SessionEnd must say how the target ended — the
// kernel tells it (bpf/proc_exit.bpf.c at sched_process_exit) — and must say
// "unknown" while the target still runs (the recording was interrupted),
// never a 0 that would read as a clean exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proc, pidAlive, readTrace, requireRoot, startProfinferd, waitUntil } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

let dir: string;
const targets: Proc[] = [];

beforeAll(() => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'pi-attach-exit-'));
});

afterAll(() => {
  for (const t of targets) if (pidAlive(t.pid)) t.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** llama-simple decoding for a long time, with profinferd attached to it by pid. */
async function attached(name: string): Promise<{ target: Proc; recorder: Proc; out: string }> {
  const target = new Proc(llamaBin('llama-simple'), ['-m', ensureModel('tiny', 'q8_0'), '-n', '100000', 'Hello my name is'], { timeoutMs: 120_000 });
  targets.push(target);
  await waitUntil(() => /llama_context|main: decoded|Hello/.test(target.stderr + target.stdout), 'the target decodes', 30_000);
  const out = join(dir, `${name}.pftrace`);
  const recorder = startProfinferd(['record', '-o', out, '--level', 'token', '--pid', String(target.pid)]);
  await waitUntil(() => /^profinferd: recording process/m.test(recorder.stderr), 'profinferd attaches', 30_000);
  await new Promise((r) => setTimeout(r, 500)); // some tokens
  return { target, recorder, out };
}

describe('profinferd record --pid: how the target ended', () => {
  it('records a target killed by SIGSEGV as -11', async () => {
    const { target, recorder, out } = await attached('segv');
    target.child.kill('SIGSEGV');
    const r = await recorder.done;
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    const t = await readTrace(out);
    expect(t.sessionEnd?.reason).toBe('target exited');
    expect(t.sessionEnd?.targetExitCodeUnknown ?? false).toBe(false);
    expect(t.sessionEnd?.targetExitCode).toBe(-11);
    expect(t.tokens.length).toBeGreaterThan(0);
  });

  it('says the status is unknown when the recording stops while the target runs on', async () => {
    const { target, recorder, out } = await attached('interrupted');
    recorder.child.kill('SIGINT');
    const r = await recorder.done;
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    expect(pidAlive(target.pid)).toBe(true);
    const t = await readTrace(out);
    expect(t.sessionEnd?.reason).toBe('interrupted');
    expect(t.sessionEnd?.targetExitCodeUnknown).toBe(true);
    target.child.kill('SIGKILL');
  });
});
