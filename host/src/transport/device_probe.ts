// device_probe.ts: what a device runs, in one shell call: its architecture,
// whether profinferd is deployed (and its version), whether its service
// listens on the loopback port.
import { DEVICE_BINARY, SERVICE_PORT, normalizeArch, type DeviceArch } from './device_layout.js';
import type { DeviceTransport } from './device_transport.js';

export interface DeviceProbe {
  /** `uname -m` as the device says it. */
  readonly uname_m: string;
  /** The collector build that fits it; undefined when none does. */
  readonly arch: DeviceArch | undefined;
  /** profinferd --version on the device; undefined when not deployed. */
  readonly collector_version: string | undefined;
  /** Its control protocol (from --version). */
  readonly protocol: number | undefined;
  /** A socket listens on the device's 127.0.0.1:SERVICE_PORT. */
  readonly service_listening: boolean;
}

const SEP = '---profinfer---';

/** The /proc/net/tcp local address of 127.0.0.1:port, listening (state 0A). */
export function procNetTcpListen(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`;
}

export function probeScript(): string {
  return [
    'uname -m',
    `echo ${SEP}`,
    `if [ -x ${DEVICE_BINARY} ]; then ${DEVICE_BINARY} --version 2>&1 | head -n 1; else echo absent; fi`,
    `echo ${SEP}`,
    `if grep -q '${procNetTcpListen(SERVICE_PORT)}' /proc/net/tcp 2>/dev/null; then echo listening; else echo down; fi`,
  ].join('; ');
}

/** Parses probeScript()'s output (outside input: anything unexpected reads as unknown). */
export function parseProbe(out: string): DeviceProbe {
  const [uname = '', version = '', listen = ''] = out.split(SEP).map((s) => s.trim());
  const unameM = /^[\w.-]{1,32}$/.test(uname) ? uname : 'unknown';
  const v = /^profinferd (\S{1,40}) \(([^)]{0,200})\)/.exec(version);
  const proto = v ? /protocol (\d+)/.exec(v[2] as string) : null;
  return {
    uname_m: unameM,
    arch: normalizeArch(unameM),
    collector_version: v ? (v[1] as string) : undefined,
    protocol: proto ? Number(proto[1]) : undefined,
    service_listening: listen === 'listening',
  };
}

export async function probeDevice(t: DeviceTransport): Promise<DeviceProbe> {
  const r = await t.shell(probeScript(), 30_000);
  return parseProbe(r.stdout);
}
