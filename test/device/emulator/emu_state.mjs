// emu_state.mjs: the emulated devices' registry, shared by the hdc and adb
// emulators (test/device/bin/) and the test helper (test/device/emulated_device.ts).
//
// $PI_EMU_STATE/devices.json lists each device (serial, which tool sees it,
// state, network namespace, its address on the veth link, the directory that
// plays its filesystem under /data) and each port forward with the pids of
// its two relays. Without $PI_EMU_STATE no device is attached.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RELAY = join(dirname(fileURLToPath(import.meta.url)), 'tcp_relay.mjs');

function stateFile() {
  const dir = process.env.PI_EMU_STATE;
  return dir ? join(dir, 'devices.json') : undefined;
}

export function load() {
  const f = stateFile();
  if (!f) return { devices: [], forwards: [] };
  try {
    return JSON.parse(readFileSync(f, 'utf8'));
  } catch {
    return { devices: [], forwards: [] };
  }
}

function save(state) {
  const f = stateFile();
  writeFileSync(`${f}.tmp-${process.pid}`, JSON.stringify(state, null, 1));
  renameSync(`${f}.tmp-${process.pid}`, f);
}

/** Runs fn(state) under a lock and saves what it returns true for. */
export function update(fn) {
  const f = stateFile();
  if (!f) return fn(load());
  const lock = `${f}.lock`;
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > until) throw new Error(`emulator state locked: ${lock}`);
      spawnSync('sleep', ['0.02']);
    }
  }
  try {
    const state = load();
    const r = fn(state);
    save(state);
    return r;
  } finally {
    rmdirSync(lock);
  }
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `sh -c cmd` on the device: in its network namespace, in a private mount
 * namespace where its directory is mounted on /data (so /data/local/tmp is the
 * device's own, as on OpenHarmony and Android).
 */
export function deviceShellArgs(dev, cmd) {
  return [
    'ip', ['netns', 'exec', dev.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
      'mount --bind "$0" /data && cd / && exec sh -c "$1"', join(dev.root, 'data'), cmd],
  ];
}

/** Host path of a device path (only /data/... exists on an emulated device). */
export function hostPath(dev, remote) {
  if (!remote.startsWith('/data/') || remote.split('/').includes('..')) return undefined;
  return join(dev.root, remote);
}

/** Starts a relay in the background; resolves with its pid or rejects with its error line. */
export function startRelay(netns, listenHost, listenPort, targetHost, targetPort) {
  const args = [RELAY, listenHost, String(listenPort), targetHost, String(targetPort)];
  const child = netns
    ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] })
    : spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (!out.includes('\n')) return;
      child.stdout.destroy();
      child.unref();
      if (line.startsWith('listening')) resolve({ pid: child.pid, port: Number(line.split(' ')[1]) });
      else reject(new Error(line));
    });
    child.on('exit', (code) => reject(new Error(`relay exited with ${code}: ${out.trim()}`)));
  });
}

export function kill(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
}

/** Picks the device a command is for: by serial, or the only one. */
export function pickDevice(state, tool, serial) {
  const mine = state.devices.filter((d) => d.tool === tool);
  if (serial !== undefined) return { dev: mine.find((d) => d.serial === serial), count: mine.length };
  if (mine.length === 1) return { dev: mine[0], count: 1 };
  return { dev: undefined, count: mine.length };
}

/**
 * A port forward: a relay on the host's 127.0.0.1:local to the device's link
 * address, and one inside the device from there to its 127.0.0.1:remote, so
 * the bytes really cross the veth link (cut it and the forward is cut).
 * Resolves with undefined, or with why the host port could not be bound.
 */
export async function addForward(state, tool, dev, local, remote) {
  // PI_EMU_HOLD_PORTS=1: another program holds every host port (the refusal a real bridge gives then).
  if (process.env.PI_EMU_HOLD_PORTS === '1') return 'error EADDRINUSE';
  let devPid = state.forwards.find((f) => f.serial === dev.serial && f.remote === remote && alive(f.devPid))?.devPid;
  if (!devPid) {
    try {
      devPid = (await startRelay(dev.netns, dev.devAddr, remote, '127.0.0.1', remote)).pid;
    } catch (e) {
      if (!String(e.message).includes('EADDRINUSE')) return `device relay: ${e.message}`;
    }
  }
  let host;
  try {
    host = await startRelay(undefined, '127.0.0.1', local, dev.devAddr, remote);
  } catch (e) {
    return e.message;
  }
  update((s) => {
    s.forwards.push({ tool, serial: dev.serial, local: host.port, remote, hostPid: host.pid, devPid });
    return true;
  });
  return undefined;
}
