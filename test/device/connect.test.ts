// connect end to end: the real CLI, through the hdc emulator's port forward,
// profiles a real llama.cpp run inside an emulated device; the link is cut
// mid-stream and restored; the stream resumes; Ctrl-C stops the session; the
// trace on the host is byte-identical to the one the device stored.
import { mkdtempSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proc, waitUntil, type ProcResult } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';
import { runCli, startCli } from './cli.js';
import { DEVICE_DIR, DeviceLab, type EmulatedDevice } from './emulated_device.js';

let lab: DeviceLab;
let dev: EmulatedDevice;
const out = join(mkdtempSync(join(tmpdir(), 'pi-connect-')), 'run.pftrace');
let result: ProcResult;
let connect: Proc;
let traceId = '';
let llama: Proc | undefined;

beforeAll(async () => {
  lab = new DeviceLab();
  dev = lab.addDevice('hdc');
  const d = await runCli(lab, ['deploy', '--hdc']);
  expect(d.code, d.stderr).toBe(0);

  // A uniquely named link to llama-simple on the device: a --process session finds it and nothing else.
  const name = `pidev${process.pid % 1000}${Math.floor(Math.random() * 1e4)}`.slice(0, 15);
  symlinkSync(llamaBin('llama-simple'), dev.hostPath(`/data/local/tmp/${name}`));
  connect = startCli(lab, ['connect', '--hdc', '--process', name, '-o', out, '--qos-every', '300', '--json']);
  const m = await connect.waitFor('stderr', /started session (\S+) .* trace (\S+) ->/, 30_000);
  traceId = m[2] as string;

  const x = dev.execArgs(`/data/local/tmp/${name}`, ['-m', ensureModel('tiny', 'q8_0'), '-n', '8000', 'Hello my name is']);
  llama = new Proc(x.bin, x.args, { timeoutMs: 300_000 });
  await waitUntil(() => size(out) > 64 * 1024, 'the first 64 KiB on the host', 60_000);

  dev.cutLink();
  await connect.waitFor('stderr', /connection lost at byte \d+/, 30_000);
  const atCut = size(out);
  await new Promise((r) => setTimeout(r, 1000));
  expect(size(out)).toBe(atCut); // nothing crosses a cut link
  dev.restoreLink();
  await connect.waitFor('stderr', /reconnected; resuming at byte \d+/, 30_000);
  await waitUntil(() => size(out) > atCut + 32 * 1024, 'bytes after the resume', 60_000);
  await connect.waitFor('stderr', /resuming at byte \d+\n(?:.*\n)*?qos: running/, 30_000);

  connect.child.kill('SIGINT');
  result = await connect.done;
}, 240_000);

afterAll(() => {
  if (llama && llama.child.exitCode === null) llama.child.kill('SIGKILL');
  if (connect && connect.child.exitCode === null) connect.child.kill('SIGKILL');
  lab?.dispose();
});

function size(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

describe('profinfer-host connect --hdc (emulated device, real profinferd serve, real llama.cpp)', () => {
  it('stops cleanly on Ctrl-C and exits 0 with a JSON result', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/stopping the session/);
    const r = JSON.parse(result.stdout) as { trace_id: string; bytes: number; reconnects: number; stopped_by_client: boolean; summary: { tokens: unknown[]; node_events: number } };
    expect(r.trace_id).toBe(traceId);
    expect(r.reconnects).toBeGreaterThanOrEqual(1);
    expect(r.stopped_by_client).toBe(true);
    expect(r.summary.tokens.length).toBeGreaterThan(10);
    expect(r.summary.node_events).toBeGreaterThan(0);
    expect(r.bytes).toBe(size(out));
  });

  it('writes a trace byte-identical to the one stored on the device', () => {
    const device = readFileSync(dev.hostPath(`${DEVICE_DIR}/traces/${traceId}.pftrace`));
    const host = readFileSync(out);
    expect(host.length).toBe(device.length);
    expect(host.equals(device)).toBe(true);
  });

  it('printed live QoS lines (plain lines: stderr is not a terminal)', () => {
    expect(result.stderr).toMatch(/^qos: running\s+\S+ tok\/s\s+TTFT/m);
    expect(result.stderr).not.toMatch(/\x1b\[/);
  });

  it('removed its port forward', () => {
    expect(lab.forwards()).toEqual([]);
  });

  it('a second Ctrl-C aborts when the stop cannot get through (link cut): exit 130, forward removed', async () => {
    const c = startCli(lab, ['connect', '--hdc', '--process', 'pi-never-runs', '-o', `${out}.aborted`]);
    await c.waitFor('stderr', /started session/, 30_000);
    dev.cutLink();
    try {
      c.child.kill('SIGINT');
      await c.waitFor('stderr', /stopping the session \(Ctrl-C again aborts\)/, 10_000);
      c.child.kill('SIGINT');
      const r = await c.done;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/^aborted: \S+ has the first \d+ bytes/m);
    } finally {
      dev.restoreLink();
    }
    expect(lab.forwards()).toEqual([]);
  });

  it('joins a running session (--session); either client stops it; both files equal the device trace', async () => {
    const first = startCli(lab, ['connect', '--hdc', '--process', 'pi-join-waits', '-o', `${out}.first`, '--json']);
    const m = await first.waitFor('stderr', /started session (\S+) .* trace (\S+) ->/, 30_000);
    const second = startCli(lab, ['connect', '--hdc', '--session', m[1] as string, '-o', `${out}.second`, '--json']);
    await second.waitFor('stderr', new RegExp(`joined session ${m[1]} `), 30_000);
    second.child.kill('SIGINT');
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const device = readFileSync(dev.hostPath(`${DEVICE_DIR}/traces/${m[2]}.pftrace`));
    expect(device.length).toBeGreaterThan(0);
    expect(readFileSync(`${out}.first`).equals(device)).toBe(true);
    expect(readFileSync(`${out}.second`).equals(device)).toBe(true);
  });
});
