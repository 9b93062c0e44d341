// Lists devices through hdc and adb and probes each online one.
import { SERVICE_PORT } from '../../transport/device_layout.js';
import { DeviceError, DeviceExit } from '../../transport/device_errors.js';
import type { BridgeDevice, BridgeKind } from '../../transport/device_transport.js';
import { probeDevice, type DeviceProbe } from '../../transport/device_probe.js';
import { listDevices, transportFor } from '../../transport/select_device.js';
import type { DevicesArgs } from './command.js';

export interface DeviceRow extends Partial<DeviceProbe> {
  readonly bridge: BridgeKind;
  readonly serial: string;
  readonly state: string;
  readonly details: Readonly<Record<string, string>>;
  /** Why the probe failed, when it did. */
  readonly error?: string;
}

export interface DevicesResult {
  readonly devices: DeviceRow[];
  /** Bridges that could not be asked, and why (e.g. not on PATH). */
  readonly unavailable: { bridge: BridgeKind; reason: string }[];
}

async function row(d: BridgeDevice): Promise<DeviceRow> {
  if (d.state !== 'device') return { ...d };
  try {
    return { ...d, ...(await probeDevice(transportFor(d))) };
  } catch (e) {
    return { ...d, error: (e as Error).message };
  }
}

export async function findDevices(bridges: readonly BridgeKind[]): Promise<DevicesResult> {
  const devices: DeviceRow[] = [];
  const unavailable: DevicesResult['unavailable'] = [];
  for (const b of bridges) {
    let list: BridgeDevice[];
    try {
      list = await listDevices(b);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      unavailable.push({ bridge: b, reason: e.message });
      continue;
    }
    for (const d of list) devices.push(await row(d));
  }
  if (unavailable.length === bridges.length && bridges.length) {
    throw new DeviceError(
      unavailable.every((u) => u.reason.includes('not on PATH')) ? DeviceExit.toolMissing : DeviceExit.deviceCommandFailed,
      unavailable.map((u) => u.reason).join('; '),
    );
  }
  return { devices, unavailable };
}

export async function devicesCommand(args: DevicesArgs): Promise<number> {
  const bridges: BridgeKind[] = args.hdc ? ['hdc'] : args.adb ? ['adb'] : ['hdc', 'adb'];
  const r = await findDevices(bridges);
  if (args.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  for (const u of r.unavailable) process.stderr.write(`note: ${u.reason}\n`);
  if (!r.devices.length) {
    process.stdout.write(`no devices attached (${bridges.join(', ')}): connect one with USB debugging on\n`);
    return 0;
  }
  const lines = [`${'bridge'.padEnd(7)}${'serial'.padEnd(26)}${'state'.padEnd(14)}${'arch'.padEnd(9)}${'profinferd'.padEnd(13)}service`];
  for (const d of r.devices) {
    const collector = d.state !== 'device' ? '-' : d.collector_version ?? 'not deployed';
    const service = d.state !== 'device' ? '-' : d.service_listening ? `listening on ${SERVICE_PORT}` : 'not running';
    lines.push(`${d.bridge.padEnd(7)}${d.serial.padEnd(26)}${d.state.padEnd(14)}${(d.uname_m ?? '-').padEnd(9)}${collector.padEnd(13)}${service}`);
    if (d.error) lines.push(`       ${d.error}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
