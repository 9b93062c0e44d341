// Pulls each device's finished traces: list, skip what is here, file recv /
// adb pull to a temporary name, verify, rename, convert for Perfetto.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chosenBridge } from '../../transport/bridge_args.js';
import { DeviceError, DeviceExit, type DeviceExitCode } from '../../transport/device_errors.js';
import { DEVICE_TRACE_DIR } from '../../transport/device_layout.js';
import type { BridgeDevice } from '../../transport/device_transport.js';
import { listDevices, selectDevice, transportFor } from '../../transport/select_device.js';
import { runExport } from '../export/export.js';
import type { PullArgs } from './command.js';
import { listDeviceTraces, type DeviceTrace } from './device_traces.js';
import { verifyTrace } from './verify_trace.js';

export interface PulledTrace {
  readonly trace_id: string;
  readonly status: 'pulled' | 'skipped' | 'failed';
  /** Why skipped or failed. */
  readonly reason?: string;
  readonly device_status: string;
  readonly bytes: number;
  readonly path?: string;
  readonly perfetto?: string;
  readonly packets?: number;
}

export interface PulledDevice {
  readonly bridge: string;
  readonly serial: string;
  readonly listed_via?: 'service' | 'shell';
  readonly error?: string;
  readonly traces: PulledTrace[];
}

function sinceNs(since: string | undefined): bigint | undefined {
  return since === undefined ? undefined : BigInt(Date.parse(since)) * 1_000_000n;
}

async function sizeOf(p: string): Promise<number | undefined> {
  return stat(p).then((s) => s.size, () => undefined);
}

export async function pullDevice(d: BridgeDevice, a: PullArgs, progress: (s: string) => void): Promise<PulledDevice> {
  const t = transportFor(d);
  const { traces, via } = await listDeviceTraces(t);
  const since = sinceNs(a.since);
  const wanted = traces.filter((x) => since === undefined || x.start_unix_ns >= since);
  const dir = join(a.outputDir, d.serial);
  await mkdir(dir, { recursive: true });
  const out: PulledTrace[] = [];
  progress(`${d.bridge} ${d.serial}: ${wanted.length} trace(s)${since !== undefined ? ` since ${a.since}` : ''} (listed through the ${via})`);
  let i = 0;
  for (const tr of wanted) {
    i++;
    const tag = `[${i}/${wanted.length}] ${d.serial} ${tr.trace_id}`;
    const r = await pullOne(t, tr, dir, a.convert);
    progress(`${tag}: ${r.status}${r.reason ? ` (${r.reason})` : ''}${r.status === 'pulled' ? `, ${(r.bytes / 1e6).toFixed(2)} MB, ${r.packets} packets` : ''}`);
    out.push(r);
  }
  return { bridge: d.bridge, serial: d.serial, listed_via: via, traces: out };
}

async function pullOne(t: ReturnType<typeof transportFor>, tr: DeviceTrace, dir: string, convert: boolean): Promise<PulledTrace> {
  const base = { trace_id: tr.trace_id, device_status: tr.status, bytes: tr.size_bytes };
  if (tr.status === 'running') return { ...base, status: 'skipped', reason: 'still recording: stream it with connect, or pull it once it ends' };
  const path = join(dir, `${tr.trace_id}.pftrace`);
  const perfetto = join(dir, `${tr.trace_id}.perfetto-trace`);
  if ((await sizeOf(path)) === tr.size_bytes && (!convert || existsSync(perfetto))) {
    return { ...base, status: 'skipped', reason: 'already here', path, ...(convert ? { perfetto } : {}) };
  }
  const part = `${path}.part`;
  try {
    await t.pull(`${DEVICE_TRACE_DIR}/${tr.trace_id}.pftrace`, part);
    const v = await verifyTrace(part, tr.size_bytes, tr.status !== 'complete');
    if (!v.ok) {
      await rm(part, { force: true });
      return { ...base, status: 'failed', reason: `verification failed: ${v.problem}` };
    }
    await rename(part, path);
    if (convert) await runExport({ trace: path, output: perfetto, format: 'perfetto', json: false, progress: false });
    return { ...base, status: 'pulled', path, packets: v.packets, ...(convert ? { perfetto } : {}), ...(v.problem ? { reason: v.problem } : {}) };
  } catch (e) {
    await rm(part, { force: true });
    if (e instanceof DeviceError && e.exitCode !== DeviceExit.deviceCommandFailed) throw e;
    return { ...base, status: 'failed', reason: (e as Error).message };
  }
}

export async function pull(a: PullArgs, progress: (s: string) => void): Promise<{ devices: PulledDevice[]; exitCode: number }> {
  const chosen = chosenBridge(a);
  if (!chosen) throw new DeviceError(DeviceExit.noDevice, 'pass --hdc or --adb');
  let targets: BridgeDevice[];
  if (a.allDevices) {
    targets = await listDevices(chosen.bridge);
    if (!targets.length) throw new DeviceError(DeviceExit.noDevice, `no ${chosen.bridge} device attached: connect one and check \`${chosen.bridge === 'hdc' ? 'hdc list targets -v' : 'adb devices -l'}\``);
  } else targets = [await selectDevice(chosen.bridge, chosen.serial)];
  const devices: PulledDevice[] = [];
  let exitCode: DeviceExitCode | 0 = 0;
  for (const d of targets) {
    if (d.state !== 'device') {
      devices.push({ bridge: d.bridge, serial: d.serial, error: `device is ${d.state}`, traces: [] });
      progress(`${d.bridge} ${d.serial}: skipped, device is ${d.state}`);
      exitCode ||= DeviceExit.deviceOffline;
      continue;
    }
    try {
      const r = await pullDevice(d, a, progress);
      devices.push(r);
      if (r.traces.some((x) => x.status === 'failed')) exitCode ||= DeviceExit.traceInvalid;
    } catch (e) {
      if (!(e instanceof DeviceError) || !a.allDevices) throw e;
      devices.push({ bridge: d.bridge, serial: d.serial, error: e.message, traces: [] });
      progress(`${d.bridge} ${d.serial}: ${e.message}`);
      exitCode ||= e.exitCode;
    }
  }
  return { devices, exitCode };
}

export async function pullCommand(a: PullArgs): Promise<number> {
  const { devices, exitCode } = await pull(a, (s) => process.stderr.write(`pull: ${s}\n`));
  const all = devices.flatMap((d) => d.traces);
  const count = (s: PulledTrace['status']): number => all.filter((x) => x.status === s).length;
  if (a.json) process.stdout.write(JSON.stringify({ output_dir: a.outputDir, devices }, null, 2) + '\n');
  else {
    process.stdout.write(`${count('pulled')} pulled, ${count('skipped')} skipped, ${count('failed')} failed into ${a.outputDir}/<serial>/\n`);
    const first = all.find((x) => x.perfetto);
    if (first) process.stdout.write(`open one: profinfer-host open ${first.path}\n`);
  }
  return exitCode;
}
