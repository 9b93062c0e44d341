// record on this machine: in process through the collector addon, and — when
// the addon is not there — through profinferd record, saying so; both traces
// are real ones.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrace, requireRoot, run } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { CLI, REPO_ROOT } from './emulated_device.js';

describe('profinfer-host record', () => {
  it('records in process with the collector addon: node level, scheduler and counters', async () => {
    requireRoot();
    const out = join(mkdtempSync(join(tmpdir(), 'pi-record-')), 'run.pftrace');
    const r = await run(
      process.execPath,
      [CLI, 'record', '-o', out, '--sched', '--counters', 'task-clock', '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '8', 'Hello'],
      { cwd: REPO_ROOT },
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toMatch(/^record: recording process \d+ at node level in process to /m);
    expect(r.stderr).toMatch(/^record: target exited\. Recorded 8 tokens, 8 graphs, \d+ node events, [1-9]\d* scheduler events; lost 0;/m);
    expect(r.stderr).not.toMatch(/running \S+profinferd/);
    const t = await readTrace(out);
    expect(t.error).toBeUndefined();
    expect(t.summary.tokens.length).toBe(8);
    expect(t.summary.level).toBe('node');
    expect(t.summary.node_events).toBeGreaterThan(0);
    expect(t.session?.config?.sched).toBe(true);
    expect(t.packets.some((p) => p.schedSwitch)).toBe(true);
    expect(t.packets.some((p) => p.counter?.name === 'task-clock')).toBe(true);
  });

  it('falls back to profinferd record without the addon, says so, and writes a trace of the command', async () => {
    requireRoot();
    const out = join(mkdtempSync(join(tmpdir(), 'pi-record-')), 'run.pftrace');
    const r = await run(process.execPath, [CLI, 'record', '-o', out, '--level', 'graph', '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '8', 'Hello'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PROFINFER_NO_ADDON: '1' },
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toMatch(/^record: the in-process collector addon is disabled \(PROFINFER_NO_ADDON\); running \S+profinferd record$/m);
    const t = await readTrace(out);
    expect(t.summary.tokens.length).toBeGreaterThanOrEqual(8);
    expect(t.summary.level).toBe('graph');
  });

  it('wants exactly one of --pid and a command', async () => {
    const r = await run(process.execPath, [CLI, 'record', '-o', '/tmp/x.pftrace'], { cwd: REPO_ROOT });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pass --pid PID or -- COMMAND/);
  });
});
