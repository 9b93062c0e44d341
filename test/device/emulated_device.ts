// Emulated OpenHarmony / Android devices for the device tests: each is a
// network namespace (loopback + a veth link to the host) whose /data is a
// temporary directory, reached through the hdc and adb emulators in
// test/device/bin (put first on PATH by deviceEnv()). profinferd runs inside
// it for real, listening on the namespace's loopback; port forwards are real
// TCP relays across the veth link, so cutLink() really cuts them.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireRoot } from '../support/collector.js';

export const DEVICE_BIN = fileURLToPath(new URL('./bin', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO_ROOT, 'host', 'dist', 'cli.js');
/** Where profinfer-host deploys the collector on a device. */
export const DEVICE_DIR = '/data/local/tmp/profinfer';

export type Tool = 'hdc' | 'adb';
export type DeviceState = 'device' | 'offline' | 'unauthorized';

interface Registry {
  devices: RegistryDevice[];
  forwards: { tool: Tool; serial: string; local: number; remote: number; hostPid: number; devPid?: number }[];
}
interface RegistryDevice {
  serial: string;
  tool: Tool;
  state: DeviceState;
  index: number;
  netns: string;
  devAddr: string;
  hostVeth: string;
  root: string;
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A set of emulated devices sharing one registry ($PI_EMU_STATE). */
export class DeviceLab {
  readonly stateDir = mkdtempSync(join(tmpdir(), 'pi-emu-'));
  readonly devices: EmulatedDevice[] = [];
  readonly #tag = `${process.pid % 10000}${Math.floor(Math.random() * 36 ** 2).toString(36)}`;
  #subnet = 16 + Math.floor(Math.random() * 200);

  constructor() {
    requireRoot();
    // The devices' /data is a bind mount: it needs a mount point (an empty directory).
    if (!existsSync('/data')) mkdirSync('/data');
    this.#save({ devices: [], forwards: [] });
  }

  /** Environment for the CLI and the emulators: PATH with hdc and adb, and the registry. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${DEVICE_BIN}:${process.env.PATH ?? ''}`, PI_EMU_STATE: this.stateDir, NO_COLOR: '1', ...extra };
  }

  addDevice(tool: Tool, serial?: string): EmulatedDevice {
    const i = this.devices.length;
    const netns = `pi-emu-${this.#tag}-${i}`;
    const hostVeth = `pih${this.#tag}${i}`.slice(0, 15);
    const devVeth = `pid${this.#tag}${i}`.slice(0, 15);
    const base = `10.${this.#subnet}.${i * 4}`;
    ip('netns', 'add', netns);
    ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', devVeth);
    ip('link', 'set', devVeth, 'netns', netns);
    ip('addr', 'add', `${base}.1/30`, 'dev', hostVeth);
    ip('link', 'set', hostVeth, 'up');
    ip('-n', netns, 'addr', 'add', `${base}.2/30`, 'dev', devVeth);
    ip('-n', netns, 'link', 'set', devVeth, 'up');
    ip('-n', netns, 'link', 'set', 'lo', 'up');
    const root = mkdtempSync(join(tmpdir(), `pi-dev-${tool}-`));
    mkdirSync(join(root, 'data', 'local', 'tmp'), { recursive: true });
    const dev = new EmulatedDevice(this, {
      serial: serial ?? (tool === 'hdc' ? `EMU${this.#tag.toUpperCase()}HDC${i}` : `emulator-${5554 + 2 * i}`),
      tool,
      state: 'device',
      index: i,
      netns,
      devAddr: `${base}.2`,
      hostVeth,
      root,
    });
    const reg = this.#load();
    reg.devices.push(dev.info);
    this.#save(reg);
    this.devices.push(dev);
    return dev;
  }

  setState(serial: string, state: DeviceState): void {
    const reg = this.#load();
    const d = reg.devices.find((x) => x.serial === serial);
    if (d) d.state = state;
    this.#save(reg);
  }

  /** Port forwards the emulators hold now. */
  forwards(): Registry['forwards'] {
    return this.#load().forwards;
  }

  /** Stops every relay and every process in the namespaces, removes them and the device directories. */
  dispose(): void {
    const reg = this.#load();
    for (const f of reg.forwards) killPid(f.hostPid);
    for (const d of this.devices) d.dispose();
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  #load(): Registry {
    return JSON.parse(readFileSync(join(this.stateDir, 'devices.json'), 'utf8')) as Registry;
  }

  #save(r: Registry): void {
    writeFileSync(join(this.stateDir, 'devices.json'), JSON.stringify(r, null, 1));
  }
}

function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

export class EmulatedDevice {
  constructor(
    readonly lab: DeviceLab,
    readonly info: RegistryDevice,
  ) {}

  get serial(): string {
    return this.info.serial;
  }

  get tool(): Tool {
    return this.info.tool;
  }

  /** Host path of a device path under /data. */
  hostPath(remote: string): string {
    return join(this.info.root, remote);
  }

  /** Runs `sh -c cmd` inside the device (as the emulators' shell does). */
  shell(cmd: string, timeoutMs = 60_000): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', this.info.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
        'mount --bind "$0" /data && cd / && exec sh -c "$1"', join(this.info.root, 'data'), cmd],
      { encoding: 'utf8', timeout: timeoutMs },
    );
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Argv that runs a program inside the device (for a Proc). */
  execArgs(bin: string, args: readonly string[]): { bin: string; args: string[] } {
    return {
      bin: 'ip',
      args: ['netns', 'exec', this.info.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
        'mount --bind "$0" /data && cd / && exec "$@"', join(this.info.root, 'data'), bin, ...args],
    };
  }

  /** Takes the link down: forwarded connections stall, new ones are refused. */
  cutLink(): void {
    ip('link', 'set', this.info.hostVeth, 'down');
  }

  restoreLink(): void {
    ip('link', 'set', this.info.hostVeth, 'up');
  }

  /** Pids of every process in the device's namespace (profinferd, relays, targets). */
  pids(): number[] {
    return ip('netns', 'pids', this.info.netns).split('\n').filter(Boolean).map(Number);
  }

  dispose(): void {
    for (const pid of this.pids()) killPid(pid);
    try {
      ip('netns', 'del', this.info.netns);
    } catch {
      /* already gone */
    }
    try {
      ip('link', 'del', this.info.hostVeth);
    } catch {
      /* went with the namespace */
    }
    rmSync(this.info.root, { recursive: true, force: true });
  }
}
