// adb.ts: Android's adb as a DeviceTransport. adb reports failures with a
// non-zero exit code and "adb: ..." on stderr.
import { DeviceError, DeviceExit } from './device_errors.js';
import { parseStatus, withStatus, type BridgeDevice, type DeviceTransport, type ShellResult } from './device_transport.js';
import { runTool, type ToolResult } from './run_tool.js';

const SERIAL_RE = /^[\w.:\-]{1,128}$/;

/** `adb devices -l`: "List of devices attached", then SERIAL STATE [key:value ...]. */
export function parseAdbDevices(out: string): BridgeDevice[] {
  const devices: BridgeDevice[] = [];
  for (const line of out.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('List of devices') || t.startsWith('*')) continue;
    const [serial, state, ...rest] = t.split(/\s+/);
    if (!serial || !state || !SERIAL_RE.test(serial)) continue;
    const details: Record<string, string> = {};
    for (const kv of rest) {
      const i = kv.indexOf(':');
      if (i > 0) details[kv.slice(0, i)] = kv.slice(i + 1);
    }
    devices.push({ bridge: 'adb', serial, state, details });
  }
  return devices;
}

export async function listAdbDevices(): Promise<BridgeDevice[]> {
  const r = await runTool('adb', ['devices', '-l'], 30_000);
  if (r.code !== 0) throw new DeviceError(DeviceExit.deviceCommandFailed, `adb devices failed: ${firstLine(r.stderr || r.stdout)}`);
  return parseAdbDevices(r.stdout);
}

function firstLine(s: string): string {
  return s.trim().split(/\r?\n/)[0]?.slice(0, 300) ?? '';
}

export class AdbTransport implements DeviceTransport {
  readonly bridge = 'adb' as const;

  constructor(readonly serial: string) {}

  async #adb(args: readonly string[], timeoutMs?: number): Promise<ToolResult> {
    const r = await runTool('adb', ['-s', this.serial, ...args], timeoutMs);
    if (r.code !== 0 && args[0] !== 'shell') throw this.#error(args, r);
    return r;
  }

  #error(args: readonly string[], r: ToolResult): DeviceError {
    const what = firstLine(r.stderr || r.stdout).replace(/^adb: /, '');
    if (/not found|offline|unauthorized|no devices/.test(what) && !/listener/.test(what)) {
      return new DeviceError(DeviceExit.deviceOffline, `adb cannot reach device ${this.serial} (${what}): check the cable, authorize the computer on the device and run \`adb devices -l\``);
    }
    return new DeviceError(
      args[0] === 'forward' ? DeviceExit.forwardRefused : DeviceExit.deviceCommandFailed,
      `adb ${args.join(' ')} failed on ${this.serial}: ${what}`,
    );
  }

  async shell(cmd: string, timeoutMs?: number): Promise<ShellResult> {
    const args = ['shell', withStatus(cmd)];
    const r = await this.#adb(args, timeoutMs);
    const { stdout, code } = parseStatus(r.stdout);
    if (code === undefined) throw this.#error(args, r);
    return { code, stdout };
  }

  async forward(local: number, remote: number): Promise<void> {
    await this.#adb(['forward', `tcp:${local}`, `tcp:${remote}`], 30_000);
  }

  async removeForward(local: number): Promise<void> {
    await this.#adb(['forward', '--remove', `tcp:${local}`], 30_000);
  }

  async push(local: string, remote: string): Promise<void> {
    await this.#adb(['push', local, remote], 600_000);
  }

  async pull(remote: string, local: string): Promise<void> {
    await this.#adb(['pull', remote, local], 600_000);
  }
}
