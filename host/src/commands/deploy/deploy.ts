// Pushes the collector, replaces a running service, starts it and checks it
// with a Hello through a port forward.
import { chosenBridge } from '../../transport/bridge_args.js';
import { snapshotCollector } from '../../transport/collector_snapshot.js';
import { DeviceError, DeviceExit } from '../../transport/device_errors.js';
import { DEVICE_BINARY, DEVICE_DIR, DEVICE_TOKEN, SERVICE_PORT, collectorBinary } from '../../transport/device_layout.js';
import { probeDevice, procNetTcpListen } from '../../transport/device_probe.js';
import type { DeviceTransport } from '../../transport/device_transport.js';
import { selectDevice, transportFor } from '../../transport/select_device.js';
import { linkDevice } from '../../transport/service_link.js';
import type { DeployArgs } from './command.js';

export interface DeployResult {
  readonly bridge: string;
  readonly serial: string;
  readonly arch: string;
  readonly binary: string;
  readonly bytes: number;
  readonly remote_path: string;
  readonly replaced_service: boolean;
  readonly server_version: string;
  readonly protocol: number;
  readonly device_model: string;
}

/** Stops every `profinferd serve` in the device's network namespace (one service per device) and waits for its port. */
export function stopServiceScript(): string {
  const listen = procNetTcpListen(SERVICE_PORT);
  return [
    'me=$(readlink /proc/self/ns/net)',
    'for p in /proc/[0-9]*; do',
    '  set -- $(tr "\\000" " " < $p/cmdline 2>/dev/null)',
    '  case "$1" in */profinferd|profinferd) ;; *) continue ;; esac',
    '  [ "$2" = serve ] && [ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] && kill ${p#/proc/}',
    'done',
    'i=0',
    `while grep -q '${listen}' /proc/net/tcp 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
    `! grep -q '${listen}' /proc/net/tcp 2>/dev/null`,
  ].join('\n');
}

async function check(t: DeviceTransport, cmd: string, what: string): Promise<string> {
  const r = await t.shell(cmd, 60_000);
  if (r.code !== 0) {
    throw new DeviceError(DeviceExit.deviceCommandFailed, `failed to ${what} on ${t.bridge} device ${t.serial} (exit ${r.code}): ${r.stdout.trim().split('\n').pop() ?? ''}`);
  }
  return r.stdout;
}

export async function deploy(args: DeployArgs, log: (s: string) => void): Promise<DeployResult> {
  const chosen = chosenBridge(args);
  if (!chosen) throw new DeviceError(DeviceExit.noDevice, 'pass --hdc or --adb');
  const dev = await selectDevice(chosen.bridge, chosen.serial);
  const t = transportFor(dev);
  const probe = await probeDevice(t);
  if (!probe.arch) {
    throw new DeviceError(DeviceExit.noCollectorBinary, `${dev.serial} is a ${probe.uname_m} device: profinferd is built for x86_64 and aarch64 only`);
  }
  const binary = args.binary ?? collectorBinary(probe.arch);
  const snap = await snapshotCollector(binary, probe.arch);
  const bytes = snap.bytes;
  log(`deploy: pushing ${binary} (${(bytes / 1e6).toFixed(1)} MB, ${probe.arch}) to ${dev.bridge} device ${dev.serial}`);
  await check(t, `mkdir -p ${DEVICE_DIR}`, `create ${DEVICE_DIR}`);
  const staged = `${DEVICE_BINARY}.new`;
  try {
    await t.push(snap.path, staged);
  } finally {
    await snap.dispose();
  }
  const size = Number((await check(t, `wc -c < ${staged}`, 'check the pushed file')).trim());
  if (size !== bytes) throw new DeviceError(DeviceExit.deviceCommandFailed, `the pushed collector on ${dev.serial} has ${size} bytes, not ${bytes}: the transfer was cut; run deploy again`);
  if (probe.service_listening) log('deploy: stopping the running service');
  await check(t, stopServiceScript(), 'stop the running profinferd serve');
  await check(t, `mv -f ${staged} ${DEVICE_BINARY} && chmod 755 ${DEVICE_BINARY}`, 'install the collector');
  log('deploy: starting profinferd serve');
  const started = await t.shell(`${DEVICE_BINARY} serve --state-dir ${DEVICE_DIR} </dev/null 2>&1`, 60_000);
  if (started.code !== 0 || !/serving/.test(started.stdout)) {
    const why = started.stdout.trim().split('\n').filter((l) => /error/.test(l)).pop() ?? started.stdout.trim().split('\n').pop() ?? '';
    throw new DeviceError(DeviceExit.serviceDown, `profinferd serve did not start on ${dev.serial}: ${why} (log: ${DEVICE_DIR}/profinferd.log)`);
  }
  const link = await linkDevice(t);
  try {
    const h = link.client.hello;
    return {
      bridge: dev.bridge,
      serial: dev.serial,
      arch: probe.arch,
      binary,
      bytes,
      remote_path: DEVICE_BINARY,
      replaced_service: probe.service_listening,
      server_version: h.serverVersion ?? '',
      protocol: h.protocolVersion ?? 0,
      device_model: h.deviceModel ?? '',
    };
  } finally {
    await link.close();
  }
}

export async function deployCommand(args: DeployArgs): Promise<number> {
  const r = await deploy(args, (s) => process.stderr.write(s + '\n'));
  if (args.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const pick = r.bridge === 'hdc' ? `--hdc -t ${r.serial}` : `--adb -s ${r.serial}`;
  process.stdout.write(
    `deployed profinferd ${r.server_version} (${r.arch}) to ${r.bridge} device ${r.serial}: service answering on its 127.0.0.1:${SERVICE_PORT}, ` +
      `token in ${DEVICE_TOKEN}\nnext: profinfer-host connect ${pick} --process llama-cli -o run.pftrace\n`,
  );
  return 0;
}
