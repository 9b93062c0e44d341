// select_device.ts: which device a command talks to: the one named with -t /
// -s, or the only one attached. No device, an unknown serial, several devices
// and an offline one are each their own DeviceError.
import { AdbTransport, listAdbDevices } from './adb.js';
import { DeviceError, DeviceExit } from './device_errors.js';
import type { BridgeDevice, BridgeKind, DeviceTransport } from './device_transport.js';
import { HdcTransport, listHdcTargets } from './hdc.js';

export function listDevices(bridge: BridgeKind): Promise<BridgeDevice[]> {
  return bridge === 'hdc' ? listHdcTargets() : listAdbDevices();
}

export function transportFor(d: Pick<BridgeDevice, 'bridge' | 'serial'>): DeviceTransport {
  return d.bridge === 'hdc' ? new HdcTransport(d.serial) : new AdbTransport(d.serial);
}

const flag = (bridge: BridgeKind): string => (bridge === 'hdc' ? '-t KEY' : '-s SERIAL');
const listCmd = (bridge: BridgeKind): string => (bridge === 'hdc' ? 'hdc list targets -v' : 'adb devices -l');

/** Throws unless the device is usable ("device"). */
export function requireOnline(d: BridgeDevice): void {
  if (d.state === 'device') return;
  const what =
    d.state === 'unauthorized'
      ? 'has not authorized this computer: accept the debugging prompt on the device'
      : `is ${d.state}: reconnect it (cable, developer options) and check \`${listCmd(d.bridge)}\``;
  throw new DeviceError(DeviceExit.deviceOffline, `${d.bridge} device ${d.serial} ${what}`);
}

/** The device to use: `serial`, or the only one attached. */
export async function selectDevice(bridge: BridgeKind, serial: string | undefined): Promise<BridgeDevice> {
  const all = await listDevices(bridge);
  if (serial !== undefined) {
    const d = all.find((x) => x.serial === serial);
    if (!d) {
      throw new DeviceError(
        DeviceExit.noDevice,
        `no ${bridge} device ${serial}${all.length ? ` (attached: ${all.map((x) => x.serial).join(', ')})` : ' (none attached)'}: check \`${listCmd(bridge)}\``,
      );
    }
    requireOnline(d);
    return d;
  }
  if (all.length === 0) {
    throw new DeviceError(DeviceExit.noDevice, `no ${bridge} device attached: connect one with USB debugging on and check \`${listCmd(bridge)}\``);
  }
  if (all.length > 1) {
    throw new DeviceError(
      DeviceExit.severalDevices,
      `${all.length} ${bridge} devices attached (${all.map((x) => x.serial).join(', ')}): pick one with ${flag(bridge)}`,
    );
  }
  requireOnline(all[0] as BridgeDevice);
  return all[0] as BridgeDevice;
}
