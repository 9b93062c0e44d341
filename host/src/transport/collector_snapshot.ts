// collector_snapshot.ts: a private copy of the collector to push, checked to be
// an ELF executable for the device's architecture. The build directory may be
// rewritten while we push (a rebuild): the copy keeps what is pushed and what
// its size is checked against one and the same file.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceError, DeviceExit } from './device_errors.js';
import type { DeviceArch } from './device_layout.js';

/** ELF e_machine of each architecture. */
const E_MACHINE: Record<DeviceArch, number> = { x86_64: 62, aarch64: 183 };

/** Why `bytes` is not a 64-bit little-endian ELF executable for `arch`, or undefined when it is one. */
export function elfProblem(bytes: Uint8Array, arch: DeviceArch): string | undefined {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return 'not an ELF file';
  if (bytes[4] !== 2 || bytes[5] !== 1) return 'not a 64-bit little-endian ELF file';
  const machine = (bytes[18] as number) | ((bytes[19] as number) << 8);
  if (machine !== E_MACHINE[arch]) return `built for ELF machine ${machine}, not ${arch}`;
  return undefined;
}

export interface Snapshot {
  readonly path: string;
  readonly bytes: number;
  dispose(): Promise<void>;
}

export async function snapshotCollector(binary: string, arch: DeviceArch): Promise<Snapshot> {
  const dir = await mkdtemp(join(tmpdir(), 'profinfer-deploy-'));
  const path = join(dir, 'profinferd');
  try {
    await copyFile(binary, path);
    const bytes = await readFile(path);
    const problem = elfProblem(bytes, arch);
    if (problem) {
      throw new DeviceError(DeviceExit.noCollectorBinary, `${binary} cannot run on an ${arch} device: ${problem} (is it being rebuilt? try again when the build ends)`);
    }
    return { path, bytes: bytes.length, dispose: () => rm(dir, { recursive: true, force: true }) };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    if (e instanceof DeviceError) throw e;
    throw new DeviceError(DeviceExit.noCollectorBinary, `cannot read the collector ${binary}: ${(e as Error).message}`, { cause: e });
  }
}
