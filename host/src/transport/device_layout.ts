// device_layout.ts: where the collector lives on a device (the state directory
// profinferd serve picks on OpenHarmony and Android), and which collector
// binary on this machine fits a device's architecture.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DEFAULT_PORT } from '../device/control_client.js';
import { DeviceError, DeviceExit } from './device_errors.js';

/** profinferd serve's default state directory where /data/local/tmp exists. */
export const DEVICE_DIR = '/data/local/tmp/profinfer';
export const DEVICE_BINARY = `${DEVICE_DIR}/profinferd`;
export const DEVICE_TOKEN = `${DEVICE_DIR}/auth_token`;
export const DEVICE_TRACE_DIR = `${DEVICE_DIR}/traces`;
export const DEVICE_LOG = `${DEVICE_DIR}/profinferd.log`;
export const SERVICE_PORT = DEFAULT_PORT;

/** The repository root (host/dist/transport/ or host/src/transport/ is three levels down). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Device architectures profinferd is built for, from `uname -m`. */
export type DeviceArch = 'x86_64' | 'aarch64';

export function normalizeArch(unameM: string): DeviceArch | undefined {
  const m = unameM.trim();
  if (m === 'x86_64' || m === 'amd64') return 'x86_64';
  if (m === 'aarch64' || m === 'arm64' || m === 'armv8l') return 'aarch64';
  return undefined;
}

const BUILD_DIRS: Record<DeviceArch, string> = { x86_64: 'build', aarch64: 'build-aarch64' };
const BUILD_HINT: Record<DeviceArch, string> = {
  x86_64: 'cmake -S . -B build && cmake --build build',
  aarch64: 'cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake && cmake --build build-aarch64',
};

/** The collector for `arch`: PROFINFER_COLLECTOR_<ARCH> if set, else the repository's build. */
export function collectorBinary(arch: DeviceArch): string {
  const env = process.env[`PROFINFER_COLLECTOR_${arch.toUpperCase()}`];
  const path = env || join(REPO_ROOT, BUILD_DIRS[arch], 'collector-c', 'profinferd');
  if (!existsSync(path)) {
    throw new DeviceError(
      DeviceExit.noCollectorBinary,
      `no ${arch} collector at ${path}: build it (${BUILD_HINT[arch]}) or set PROFINFER_COLLECTOR_${arch.toUpperCase()}`,
    );
  }
  return path;
}

/** The collector for this machine (record). */
export function localCollector(): string {
  const arch = normalizeArch(process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch);
  if (!arch) throw new DeviceError(DeviceExit.noCollectorBinary, `profinferd is not built for ${process.arch}`);
  return process.env.PROFINFERD || collectorBinary(arch);
}
