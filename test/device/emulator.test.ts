// The hdc and adb emulators themselves: the tools' syntax, replies and exit
// codes, shell inside the device, files in and out of its /data, and port
// forwards that are real relays across the veth link (cut it and they stop).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proc } from '../support/collector.js';
import { DeviceLab, type EmulatedDevice } from './emulated_device.js';

let lab: DeviceLab;
let h: EmulatedDevice;
let a: EmulatedDevice;
const scratch = mkdtempSync(join(tmpdir(), 'pi-emu-test-'));

beforeAll(() => {
  lab = new DeviceLab();
  h = lab.addDevice('hdc');
  a = lab.addDevice('adb');
});

afterAll(() => {
  lab?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

function tool(...argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(argv[0] as string, argv.slice(1), { env: lab.env(), encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Sends `msg` to 127.0.0.1:port and resolves with the reply (or rejects / times out). */
function roundTrip(port: number, msg: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('timed out'));
    }, timeoutMs);
    s.on('connect', () => s.write(msg));
    s.on('data', (d) => {
      got += d.toString();
      clearTimeout(t);
      s.destroy();
      resolve(got);
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(t);
      if (!got) reject(new Error('closed without a reply'));
    });
  });
}

describe('hdc emulator', () => {
  it('lists targets, runs shell commands inside the device, without passing on the exit status', () => {
    expect(tool('hdc', 'list', 'targets')).toMatchObject({ code: 0, out: `${h.serial}\n` });
    expect(tool('hdc', 'list', 'targets', '-v').out).toMatch(new RegExp(`^${h.serial}\\s+USB\\s+Connected\\s+localhost\\s+hdc$`, 'm'));
    expect(tool('hdc', 'shell', 'echo out; exit 3')).toMatchObject({ code: 0, out: 'out\n' });
    // Inside the device: its own network namespace, with its link address.
    const ns = tool('hdc', 'shell', 'readlink /proc/self/ns/net; ip -o -4 addr show').out;
    expect(ns.split('\n')[0]).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(ns).toContain(`inet ${h.info.devAddr}/30`);
    expect(tool('hdc', '-t', 'nope', 'shell', 'true')).toMatchObject({ code: 0, out: '[Fail]Device not founded or connected\n' });
  });

  it('sends and receives files to and from the device /data', () => {
    const dir = mkdtempSync(join(scratch, 'file-'));
    writeFileSync(join(dir, 'in'), 'payload');
    expect(tool('hdc', 'file', 'send', join(dir, 'in'), '/data/local/tmp/x/in').out).toMatch(/^FileTransfer finish, Size:7, File count = 1/);
    expect(readFileSync(h.hostPath('/data/local/tmp/x/in'), 'utf8')).toBe('payload');
    expect(tool('hdc', 'shell', 'cat /data/local/tmp/x/in').out).toBe('payload');
    expect(tool('hdc', 'file', 'recv', '/data/local/tmp/x/in', join(dir, 'out')).code).toBe(0);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('payload');
    expect(tool('hdc', 'file', 'recv', '/data/local/tmp/nothing', join(dir, 'o2')).out).toMatch(/^\[Fail\]Error opening file: no such file or directory/);
  });

  it('forwards a host port to the device loopback across the link; cutting the link cuts it', async () => {
    // An echo server on the device's loopback, started through the emulated shell's namespace.
    const echo = h.execArgs(process.execPath, ['-e', `require('net').createServer(s=>s.pipe(s)).listen(7001,'127.0.0.1',()=>console.log('up'))`]);
    const server = new Proc(echo.bin, echo.args, { timeoutMs: 60_000 });
    try {
      await server.waitFor('stdout', /up/, 10_000);
      const port = await freePort();
      expect(tool('hdc', 'fport', `tcp:${port}`, 'tcp:7001')).toMatchObject({ code: 0, out: 'Forwardport result:OK\n' });
      expect(tool('hdc', 'fport', 'ls').out).toBe(`${h.serial}    tcp:${port} tcp:7001    [Forward]\n`);
      expect(await roundTrip(port, 'ping')).toBe('ping');
      h.cutLink();
      await expect(roundTrip(port, 'ping', 1500)).rejects.toThrow();
      h.restoreLink();
      expect(await roundTrip(port, 'pong')).toBe('pong');
      expect(tool('hdc', 'fport', 'rm', `tcp:${port}`, 'tcp:7001').out).toBe(`Remove forward ruler success, ruler:tcp:${port} tcp:7001\n`);
      await expect(roundTrip(port, 'ping', 1500)).rejects.toThrow();
      expect(tool('hdc', 'fport', 'ls').out).toBe('[Empty]\n');
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});

describe('adb emulator', () => {
  it('lists devices with and without -l, and fails like adb', () => {
    expect(tool('adb', 'devices').out).toBe(`List of devices attached\n${a.serial}\tdevice\n\n`);
    expect(tool('adb', 'devices', '-l').out).toMatch(new RegExp(`^${a.serial}\\s+device product:\\S+ model:\\S+ device:\\S+ transport_id:\\d+$`, 'm'));
    expect(tool('adb', '-s', 'nope', 'shell', 'true')).toMatchObject({ code: 1, err: "adb: device 'nope' not found\n" });
    expect(tool('adb', 'forward', '--remove', 'tcp:1')).toMatchObject({ code: 1, err: "adb: error: listener 'tcp:1' not found\n" });
  });

  it('passes on the shell exit status; push and pull', () => {
    expect(tool('adb', 'shell', 'echo hi; exit 7')).toMatchObject({ code: 7, out: 'hi\n' });
    const dir = mkdtempSync(join(scratch, 'adb-'));
    writeFileSync(join(dir, 'f'), 'abc');
    expect(tool('adb', 'push', join(dir, 'f'), '/data/local/tmp/').out).toMatch(/: 1 file pushed, 0 skipped\. .*\(3 bytes in /);
    expect(tool('adb', 'pull', '/data/local/tmp/f', join(dir, 'g')).code).toBe(0);
    expect(readFileSync(join(dir, 'g'), 'utf8')).toBe('abc');
    expect(tool('adb', 'pull', '/data/local/tmp/none', join(dir, 'h'))).toMatchObject({ code: 1 });
  });

  it('says offline and no devices like adb', () => {
    lab.setState(a.serial, 'offline');
    try {
      expect(tool('adb', 'devices').out).toContain(`${a.serial}\toffline`);
      expect(tool('adb', 'shell', 'true')).toMatchObject({ code: 1, err: 'adb: device offline\n' });
    } finally {
      lab.setState(a.serial, 'device');
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
