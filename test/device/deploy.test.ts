// devices and deploy through the real CLI on emulated devices: what each
// device runs before and after a deploy, a redeploy that replaces the running
// service, the adb path end to end (deploy, a traced llama.cpp run, adb pull).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireProfinferd } from '../support/collector.js';
import { runCli } from './cli.js';
import { recordOnDevice } from './device_traces.js';
import { DEVICE_DIR, DeviceLab, type EmulatedDevice } from './emulated_device.js';

interface DevicesJson {
  devices: { bridge: string; serial: string; state: string; uname_m?: string; collector_version?: string; protocol?: number; service_listening?: boolean }[];
  unavailable: unknown[];
}

let lab: DeviceLab;
let hdc: EmulatedDevice;
let adb: EmulatedDevice;
let offline: EmulatedDevice;

beforeAll(() => {
  lab = new DeviceLab();
  hdc = lab.addDevice('hdc');
  adb = lab.addDevice('adb');
  offline = lab.addDevice('adb');
  lab.setState(offline.serial, 'offline');
});

afterAll(() => lab?.dispose());

const serviceProcesses = (d: EmulatedDevice): number[] =>
  d.pids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'profinferd';
    } catch {
      return false;
    }
  });

describe('profinfer-host devices and deploy (emulated hdc and adb devices)', () => {
  it('lists every device of both bridges with its architecture; nothing deployed yet', async () => {
    const r = await runCli(lab, ['devices', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as DevicesJson;
    const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
    expect(j.devices.map((d) => [d.bridge, d.serial, d.state])).toEqual([
      ['hdc', hdc.serial, 'device'],
      ['adb', adb.serial, 'device'],
      ['adb', offline.serial, 'offline'],
    ]);
    for (const d of j.devices.slice(0, 2)) {
      expect(d.uname_m).toBe(arch);
      expect(d.collector_version).toBeUndefined();
      expect(d.service_listening).toBe(false);
    }
    expect(j.devices[2]?.uname_m).toBeUndefined(); // an offline device is not probed
  });

  it('deploys to an adb device: the binary for its arch, the service answers a Hello', async () => {
    const r = await runCli(lab, ['deploy', '--adb', '-s', adb.serial, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { arch: string; binary: string; bytes: number; server_version: string; protocol: number; replaced_service: boolean };
    const local = execFileSync(requireProfinferd(), ['--version'], { encoding: 'utf8' });
    expect(local).toContain(`profinferd ${j.server_version} `);
    expect(j.protocol).toBe(1);
    expect(j.replaced_service).toBe(false);
    // The build may be relinked meanwhile by someone else: compare with what deploy says it pushed.
    const pushed = readFileSync(adb.hostPath(`${DEVICE_DIR}/profinferd`));
    expect(pushed.length).toBe(j.bytes);
    expect(pushed.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(serviceProcesses(adb)).toHaveLength(1);

    const t = await runCli(lab, ['devices', '--adb']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(new RegExp(`^adb\\s+${adb.serial}\\s+device\\s+\\S+\\s+${j.server_version}\\s+listening on 7420$`, 'm'));
    expect(t.stdout).toMatch(new RegExp(`^adb\\s+${offline.serial}\\s+offline\\s+-`, 'm'));
  });

  it('redeploying replaces the running service (one service per device)', async () => {
    const before = serviceProcesses(adb);
    const r = await runCli(lab, ['deploy', '--adb', '-s', adb.serial, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { replaced_service: boolean }).replaced_service).toBe(true);
    const after = serviceProcesses(adb);
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
  });

  it('says which collector build is missing: 22', async () => {
    const r = await runCli(lab, ['deploy', '--hdc'], { PROFINFER_COLLECTOR_X86_64: '/nonexistent/profinferd' });
    expect(r.code, r.stderr).toBe(22);
    expect(r.stderr).toMatch(/^error: no x86_64 collector at \/nonexistent\/profinferd: build it/m);
  });

  it('adb end to end: a traced llama.cpp run on the device, pulled with adb pull, byte-identical', async () => {
    const id = await recordOnDevice(adb);
    const dir = mkdtempSync(join(tmpdir(), 'pi-adb-pull-'));
    const r = await runCli(lab, ['pull', '--adb', '-s', adb.serial, '-o', dir, '--json', '--no-convert']);
    expect(r.code, r.stderr).toBe(0);
    const t = (JSON.parse(r.stdout) as { devices: { traces: { trace_id: string; status: string; path: string }[] }[] }).devices[0]?.traces;
    expect(t?.map((x) => [x.trace_id, x.status])).toEqual([[id, 'pulled']]);
    expect(readFileSync(t?.[0]?.path as string).equals(readFileSync(adb.hostPath(`${DEVICE_DIR}/traces/${id}.pftrace`)))).toBe(true);
  });
});
