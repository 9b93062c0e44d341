// Every way reaching a device fails, through the real CLI: one line that says
// what to do, and an exit code of its own (transport/device_errors.ts).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcResult } from '../support/collector.js';
import { errorLine, runCli } from './cli.js';
import { DEVICE_DIR, DeviceLab, type EmulatedDevice } from './emulated_device.js';
import { startOtherVersionService } from './fake_service.js';

let lab: DeviceLab;
let deployed: EmulatedDevice; // hdc, profinferd serve running
let bare: EmulatedDevice; // adb, nothing deployed
const out = join(mkdtempSync(join(tmpdir(), 'pi-fail-')), 'x.pftrace');

beforeAll(async () => {
  lab = new DeviceLab();
  deployed = lab.addDevice('hdc');
  bare = lab.addDevice('adb');
  const r = await runCli(lab, ['deploy', '--hdc']);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

afterAll(() => lab?.dispose());

/** One error line, nothing else on stderr but the --verbose hint; no stack. */
function expectOneLine(r: ProcResult, code: number, re: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(errorLine(r)).toMatch(re);
  expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Pass --verbose'))).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('connect, deploy, pull and devices fail with one clear line and a distinct exit code', () => {
  it('no hdc / adb on PATH: 10', async () => {
    const r = await runCli(lab, ['connect', '--hdc', '--process', 'x', '-o', out], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    expectOneLine(r, 10, /^error: hdc is not on PATH: install the OpenHarmony SDK/);
    const d = await runCli(lab, ['devices'], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    expectOneLine(d, 10, /hdc is not on PATH.*; adb is not on PATH/);
  });

  it('no device: 11 (none attached, or not the serial asked for)', async () => {
    const empty = new DeviceLab();
    try {
      const r = await runCli(empty, ['connect', '--adb', '--process', 'x', '-o', out]);
      expectOneLine(r, 11, /^error: no adb device attached: connect one .*adb devices -l/);
    } finally {
      empty.dispose();
    }
    const r = await runCli(lab, ['pull', '--hdc', '-t', 'NOSUCHKEY', '-o', out]);
    expectOneLine(r, 11, new RegExp(`no hdc device NOSUCHKEY \\(attached: ${deployed.serial}\\)`));
  });

  it('device offline: 12', async () => {
    lab.setState(deployed.serial, 'offline');
    try {
      const r = await runCli(lab, ['connect', '--hdc', '--process', 'x', '-o', out]);
      expectOneLine(r, 12, new RegExp(`hdc device ${deployed.serial} is offline: reconnect it`));
    } finally {
      lab.setState(deployed.serial, 'device');
    }
    lab.setState(bare.serial, 'unauthorized');
    try {
      const r = await runCli(lab, ['deploy', '--adb']);
      expectOneLine(r, 12, /has not authorized this computer/);
    } finally {
      lab.setState(bare.serial, 'device');
    }
  });

  it('forward refused: 13', async () => {
    const r = await runCli(lab, ['connect', '--hdc', '--process', 'x', '-o', out], { PI_EMU_HOLD_PORTS: '1' });
    expectOneLine(r, 13, /hdc fport tcp:\d+ tcp:7420 failed on .*: TCP Port listen failed/);
  });

  it('auth rejected: 14 (the token on the device is not the service token)', async () => {
    const token = deployed.hostPath(`${DEVICE_DIR}/auth_token`);
    const real = readFileSync(token, 'utf8');
    writeFileSync(token, 'f'.repeat(64) + '\n');
    try {
      const r = await runCli(lab, ['connect', '--hdc', '--process', 'x', '-o', out]);
      expectOneLine(r, 14, /rejected the auth token .*: start it with profinfer-host deploy --hdc/);
    } finally {
      writeFileSync(token, real);
    }
  });

  it('version mismatch: 15', async () => {
    const { server, port } = await startOtherVersionService(2);
    try {
      const tokenFile = join(mkdtempSync(join(tmpdir(), 'pi-tok-')), 'token');
      writeFileSync(tokenFile, 'a'.repeat(64));
      const r = await runCli(lab, ['connect', '--tcp', `127.0.0.1:${port}`, '--token-file', tokenFile, '--process', 'x', '-o', out]);
      expectOneLine(r, 15, /profinferd 9\.0\.0 speaks control protocol 2, this client speaks 1/);
    } finally {
      server.close();
    }
  });

  it('service not running: 16; nothing deployed: 19', async () => {
    const r = await runCli(lab, ['connect', '--tcp', '127.0.0.1:1', '--token-file', '/dev/null', '--process', 'x', '-o', out]);
    expectOneLine(r, 14, /does not hold a profinferd auth token/);
    const nd = await runCli(lab, ['connect', '--adb', '--process', 'x', '-o', out]);
    expectOneLine(nd, 19, new RegExp(`profinferd is not deployed on adb device ${bare.serial} .*: run profinfer-host deploy --adb -s ${bare.serial}`));
    // Deployed, but the service was stopped.
    const token = deployed.hostPath(`${DEVICE_DIR}/auth_token`);
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'pi-tok-')), 'token');
    writeFileSync(tokenFile, readFileSync(token));
    const closed = await runCli(lab, ['connect', '--tcp', '127.0.0.1:1', '--token-file', tokenFile, '--process', 'x', '-o', out]);
    expectOneLine(closed, 16, /profinferd is not answering on profinferd at 127\.0\.0\.1:1 .*ECONNREFUSED/);
    for (const pid of deployed.pids()) {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'profinferd') process.kill(pid, 'SIGTERM');
    }
    await new Promise((res) => setTimeout(res, 500));
    const down = await runCli(lab, ['connect', '--hdc', '--process', 'x', '-o', out]);
    expectOneLine(down, 16, /profinferd is not answering on profinferd on hdc device .*: start it with profinfer-host deploy --hdc -t/);
  });

  it('several devices and no -t / -s: 21; usage errors: 1 with the yargs message', async () => {
    const second = lab.addDevice('adb');
    try {
      const r = await runCli(lab, ['deploy', '--adb']);
      expectOneLine(r, 21, new RegExp(`2 adb devices attached \\(${bare.serial}, ${second.serial}\\): pick one with -s SERIAL`));
    } finally {
      lab.setState(second.serial, 'offline');
    }
    const u = await runCli(lab, ['connect', '-o', out]);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/pass --hdc, --adb or --tcp HOST:PORT/);
  });
});
