// pull end to end: traces recorded on two emulated hdc devices are pulled with
// --all-devices (hdc file recv), verified, byte-identical to the device's,
// converted for Perfetto; a second pull skips them; without a running
// service the trace directory is listed through the shell; a trace that does
// not match the device index fails verification.
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine, runCli } from './cli.js';
import { recordOnDevice } from './device_traces.js';
import { DEVICE_DIR, DeviceLab, type EmulatedDevice } from './emulated_device.js';

interface PullJson {
  devices: { serial: string; listed_via: string; error?: string; traces: { trace_id: string; status: string; reason?: string; path?: string; perfetto?: string; bytes: number }[] }[];
}

let lab: DeviceLab;
let a: EmulatedDevice;
let b: EmulatedDevice;
const ids: Record<string, string[]> = {};
const outDir = mkdtempSync(join(tmpdir(), 'pi-pull-'));

beforeAll(async () => {
  lab = new DeviceLab();
  a = lab.addDevice('hdc');
  b = lab.addDevice('hdc');
  for (const d of [a, b]) {
    const r = await runCli(lab, ['deploy', '--hdc', '-t', d.serial]);
    expect(r.code, r.stderr).toBe(0);
  }
  ids[a.serial] = [await recordOnDevice(a), await recordOnDevice(a)];
  ids[b.serial] = [await recordOnDevice(b)];
}, 180_000);

afterAll(() => lab?.dispose());

const deviceTrace = (d: EmulatedDevice, id: string): Buffer => readFileSync(d.hostPath(`${DEVICE_DIR}/traces/${id}.pftrace`));

describe('profinfer-host pull --hdc (two emulated devices)', () => {
  it('pulls every trace of every device, byte-identical, and converts each for Perfetto', async () => {
    const r = await runCli(lab, ['pull', '--hdc', '--all-devices', '-o', outDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as PullJson;
    expect(j.devices.map((d) => d.serial).sort()).toEqual([a.serial, b.serial].sort());
    for (const d of [a, b]) {
      const got = j.devices.find((x) => x.serial === d.serial);
      expect(got?.listed_via).toBe('service');
      expect(got?.traces.map((t) => t.trace_id).sort()).toEqual([...(ids[d.serial] ?? [])].sort());
      for (const t of got?.traces ?? []) {
        expect(t.status, t.reason).toBe('pulled');
        expect(readFileSync(t.path as string).equals(deviceTrace(d, t.trace_id))).toBe(true);
        expect(statSync(t.perfetto as string).size).toBeGreaterThan(100);
      }
    }
    expect(r.stderr).toMatch(/^pull: \[1\/2\] /m); // progress on stderr
  });

  it('skips on a second pull what is already here (same id and size)', async () => {
    const r = await runCli(lab, ['pull', '--hdc', '--all-devices', '-o', outDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const traces = (JSON.parse(r.stdout) as PullJson).devices.flatMap((d) => d.traces);
    expect(traces).toHaveLength(3);
    for (const t of traces) expect([t.status, t.reason]).toEqual(['skipped', 'already here']);
  });

  it('takes only traces started since --since', async () => {
    const r = await runCli(lab, ['pull', '--hdc', '-t', a.serial, '-o', outDir, '--since', '2999-01-01', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as PullJson).devices[0]?.traces).toEqual([]);
  });

  it('lists the trace directory through the shell when no service runs, and refuses a trace that does not match the index', async () => {
    for (const pid of b.pids()) {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm === 'profinferd') process.kill(pid, 'SIGTERM');
    }
    await new Promise((r) => setTimeout(r, 500));
    // A damaged copy: the index says it is complete at the full size, the file lost its tail.
    const good = ids[b.serial]?.[0] as string;
    const bad = '20991231-235959-badbadbad000';
    const traceDir = b.hostPath(`${DEVICE_DIR}/traces`);
    copyFileSync(join(traceDir, `${good}.pftrace`), join(traceDir, `${bad}.pftrace`));
    const full = statSync(join(traceDir, `${bad}.pftrace`)).size;
    truncateSync(join(traceDir, `${bad}.pftrace`), full - 7);
    appendFileSync(join(traceDir, 'index.tsv'), `${bad}\ts-bad\tcomplete\t1\t2\t${full}\tpid 1 damaged\n`);

    const fresh = mkdtempSync(join(tmpdir(), 'pi-pull-shell-'));
    const r = await runCli(lab, ['pull', '--hdc', '-t', b.serial, '-o', fresh, '--json']);
    expect(r.code, r.stderr).toBe(18);
    const dev = (JSON.parse(r.stdout) as PullJson).devices[0];
    expect(dev?.listed_via).toBe('shell');
    const ok = dev?.traces.find((t) => t.trace_id === good);
    expect(ok?.status).toBe('pulled');
    expect(readFileSync(ok?.path as string).equals(deviceTrace(b, good))).toBe(true);
    const failed = dev?.traces.find((t) => t.trace_id === bad);
    expect(failed?.status).toBe('failed');
    expect(failed?.reason).toMatch(/verification failed: \d+ bytes, the device index says \d+/);
    expect(existsSync(join(fresh, b.serial, `${bad}.pftrace`))).toBe(false);
    expect(errorLine(r)).toBe('');
  });
});
