// The bridges' replies as hdc and adb print them, parsed; and device output
// that is not what we expect, which must not be taken for a device.
import { describe, expect, it } from 'vitest';
import { parseAdbDevices } from './adb.js';
import { elfProblem } from './collector_snapshot.js';
import { parseProbe, probeScript, procNetTcpListen } from './device_probe.js';
import { parseStatus, shQuote, withStatus } from './device_transport.js';
import { parseHdcTargets } from './hdc.js';

describe('hdc list targets', () => {
  it('reads -v lines: key, connection, status', () => {
    const out = 'FMR0223C13000649\t\tUSB\tConnected\tlocalhost\thdc\n192.168.1.7:5555\tTCP\tOffline\tlocalhost\thdc\n';
    expect(parseHdcTargets(out)).toEqual([
      { bridge: 'hdc', serial: 'FMR0223C13000649', state: 'device', details: { connection: 'USB', host: 'localhost' } },
      { bridge: 'hdc', serial: '192.168.1.7:5555', state: 'offline', details: { connection: 'TCP', host: 'localhost' } },
    ]);
  });

  it('reads plain lines and [Empty]', () => {
    expect(parseHdcTargets('[Empty]\n')).toEqual([]);
    expect(parseHdcTargets('7001005458323933328a\r\n').map((d) => [d.serial, d.state])).toEqual([['7001005458323933328a', 'device']]);
  });

  it('ignores lines that cannot be a connect key', () => {
    expect(parseHdcTargets('$(reboot)\tUSB\tConnected\n\x1b[31mred\n')).toEqual([]);
  });
});

describe('adb devices -l', () => {
  it('reads serial, state and key:value details after the header', () => {
    const out = 'List of devices attached\nemulator-5554          device product:sdk_gphone64 model:Pixel_7 device:emu64x transport_id:1\n0123456789ABCDEF\tunauthorized usb:1-1 transport_id:2\n\n';
    expect(parseAdbDevices(out)).toEqual([
      { bridge: 'adb', serial: 'emulator-5554', state: 'device', details: { product: 'sdk_gphone64', model: 'Pixel_7', device: 'emu64x', transport_id: '1' } },
      { bridge: 'adb', serial: '0123456789ABCDEF', state: 'unauthorized', details: { usb: '1-1', transport_id: '2' } },
    ]);
  });

  it('skips the daemon start-up chatter', () => {
    expect(parseAdbDevices('* daemon not running; starting now at tcp:5037\n* daemon started successfully\nList of devices attached\n\n')).toEqual([]);
  });
});

describe('shell exit status', () => {
  it('round-trips through the status mark', () => {
    expect(withStatus('ls /x')).toBe('ls /x; echo "__PROFINFER_STATUS=$?"');
    expect(parseStatus('a\nb\n__PROFINFER_STATUS=2\n')).toEqual({ stdout: 'a\nb\n', code: 2 });
    expect(parseStatus('a\r\n__PROFINFER_STATUS=0\r\n')).toEqual({ stdout: 'a\n', code: 0 });
  });

  it('has no status when the mark is missing or mangled', () => {
    expect(parseStatus('[Fail]Device not founded or connected\n').code).toBeUndefined();
    expect(parseStatus('__PROFINFER_STATUS=x1\n').code).toBeUndefined();
  });

  it('quotes for sh', () => {
    expect(shQuote(`it's`)).toBe(`'it'\\''s'`);
  });
});

describe('device probe', () => {
  it('reads arch, collector version and protocol, listening state', () => {
    const sep = '---profinfer---';
    const p = parseProbe(`aarch64\n${sep}\nprofinferd 0.1.0 (aarch64-linux-ohos-static, libbpf v1.4, protocol 1)\n${sep}\nlistening\n`);
    expect(p).toEqual({ uname_m: 'aarch64', arch: 'aarch64', collector_version: '0.1.0', protocol: 1, service_listening: true });
    const q = parseProbe(`armv7l\n${sep}\nabsent\n${sep}\ndown\n`);
    expect(q).toEqual({ uname_m: 'armv7l', arch: undefined, collector_version: undefined, protocol: undefined, service_listening: false });
  });

  it('matches the /proc/net/tcp line of a loopback listener', () => {
    expect(procNetTcpListen(7420)).toBe('0100007F:1CFC 00000000:0000 0A');
    expect(probeScript()).toContain(procNetTcpListen(7420));
  });
});

describe('collector ELF check', () => {
  const elf = (machine: number): Uint8Array => {
    const b = new Uint8Array(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    b[18] = machine & 0xff;
    b[19] = machine >> 8;
    return b;
  };
  it('accepts the arch it was built for and names what is wrong otherwise', () => {
    expect(elfProblem(elf(62), 'x86_64')).toBeUndefined();
    expect(elfProblem(elf(183), 'aarch64')).toBeUndefined();
    expect(elfProblem(elf(62), 'aarch64')).toBe('built for ELF machine 62, not aarch64');
    expect(elfProblem(new Uint8Array(0), 'x86_64')).toBe('not an ELF file');
  });
});
