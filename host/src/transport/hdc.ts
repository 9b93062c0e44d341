// hdc.ts: OpenHarmony's hdc as a DeviceTransport. hdc exits 0 even when a
// command fails and says "[Fail]..." instead, and `hdc shell` does not return
// the remote exit status: every reply is read, never only the exit code.
import { DeviceError, DeviceExit } from './device_errors.js';
import { parseStatus, withStatus, type BridgeDevice, type DeviceTransport, type ShellResult } from './device_transport.js';
import { runTool, type ToolResult } from './run_tool.js';

/** A connect key as hdc prints it: no spaces, no control characters. */
const KEY_RE = /^[\w.:\-[\]]{1,128}$/;

/** `hdc list targets -v` lines: KEY  CONN  STATUS  HOST  NAME ("[Empty]" for none). */
export function parseHdcTargets(out: string): BridgeDevice[] {
  const devices: BridgeDevice[] = [];
  for (const line of out.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t === '[Empty]') continue;
    const [key, conn, status, host] = t.split(/\s+/);
    if (!key || !KEY_RE.test(key)) continue;
    const state = status === undefined ? 'device' : status === 'Connected' ? 'device' : status.toLowerCase();
    devices.push({ bridge: 'hdc', serial: key, state, details: { ...(conn ? { connection: conn } : {}), ...(host ? { host } : {}) } });
  }
  return devices;
}

export async function listHdcTargets(): Promise<BridgeDevice[]> {
  const r = await runTool('hdc', ['list', 'targets', '-v'], 30_000);
  if (/\[Fail\]/.test(r.stdout)) throw new DeviceError(DeviceExit.deviceCommandFailed, `hdc list targets failed: ${firstLine(r.stdout)}`);
  return parseHdcTargets(r.stdout);
}

function firstLine(s: string): string {
  return s.trim().split(/\r?\n/)[0]?.slice(0, 300) ?? '';
}

export class HdcTransport implements DeviceTransport {
  readonly bridge = 'hdc' as const;

  constructor(readonly serial: string) {}

  async #hdc(args: readonly string[], timeoutMs?: number): Promise<ToolResult> {
    const r = await runTool('hdc', ['-t', this.serial, ...args], timeoutMs);
    const fail = /\[Fail\](.*)/.exec(r.stdout);
    if (fail && args[0] !== 'shell') {
      const what = fail[1]?.trim() ?? '';
      if (/not founded|not found|connect-key|offline/i.test(what)) {
        throw new DeviceError(DeviceExit.deviceOffline, `hdc cannot reach device ${this.serial} (${what}): check the cable and \`hdc list targets -v\``);
      }
      throw new DeviceError(
        args[0] === 'fport' ? DeviceExit.forwardRefused : DeviceExit.deviceCommandFailed,
        `hdc ${args.join(' ')} failed on ${this.serial}: ${what}`,
      );
    }
    if (r.code !== 0) throw new DeviceError(DeviceExit.deviceCommandFailed, `hdc ${args.join(' ')} exited with ${r.code}: ${firstLine(r.stderr || r.stdout)}`);
    return r;
  }

  async shell(cmd: string, timeoutMs?: number): Promise<ShellResult> {
    const r = await this.#hdc(['shell', withStatus(cmd)], timeoutMs);
    const { stdout, code } = parseStatus(r.stdout);
    if (code === undefined) {
      const fail = /\[Fail\](.*)/.exec(r.stdout);
      if (fail) throw new DeviceError(DeviceExit.deviceOffline, `hdc cannot reach device ${this.serial} (${fail[1]?.trim()}): check the cable and \`hdc list targets -v\``);
      throw new DeviceError(DeviceExit.deviceCommandFailed, `hdc shell on ${this.serial} ended without its exit status: ${firstLine(r.stdout)}`);
    }
    return { code, stdout };
  }

  async forward(local: number, remote: number): Promise<void> {
    const r = await this.#hdc(['fport', `tcp:${local}`, `tcp:${remote}`], 30_000);
    if (!/Forwardport result:OK/.test(r.stdout)) {
      throw new DeviceError(DeviceExit.forwardRefused, `hdc fport tcp:${local} tcp:${remote} refused: ${firstLine(r.stdout)}`);
    }
  }

  async removeForward(local: number, remote: number): Promise<void> {
    await this.#hdc(['fport', 'rm', `tcp:${local}`, `tcp:${remote}`], 30_000);
  }

  async push(local: string, remote: string): Promise<void> {
    const r = await this.#hdc(['file', 'send', local, remote], 600_000);
    if (!/FileTransfer finish/.test(r.stdout)) throw new DeviceError(DeviceExit.deviceCommandFailed, `hdc file send ${local} failed: ${firstLine(r.stdout)}`);
  }

  async pull(remote: string, local: string): Promise<void> {
    const r = await this.#hdc(['file', 'recv', remote, local], 600_000);
    if (!/FileTransfer finish/.test(r.stdout)) throw new DeviceError(DeviceExit.deviceCommandFailed, `hdc file recv ${remote} failed: ${firstLine(r.stdout)}`);
  }
}
