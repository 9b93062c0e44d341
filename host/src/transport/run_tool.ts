// run_tool.ts: runs a host tool (hdc, adb) and collects its output. A tool
// that is not on PATH is a DeviceError that says where to get it.
import { spawn } from 'node:child_process';
import { DeviceError, DeviceExit } from './device_errors.js';

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The longest output kept from a tool: device output is outside input. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

const INSTALL_HINT: Record<string, string> = {
  hdc: 'install the OpenHarmony SDK toolchains (DevEco Studio or Command Line Tools) and put hdc on PATH',
  adb: 'install Android platform-tools and put adb on PATH',
};

export function runTool(tool: string, args: readonly string[], timeoutMs = 120_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const keep = (s: string, d: Buffer): string => (s.length < MAX_OUTPUT_BYTES ? s + d.toString() : s);
    child.stdout.on('data', (d: Buffer) => (stdout = keep(stdout, d)));
    child.stderr.on('data', (d: Buffer) => (stderr = keep(stderr, d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') {
        reject(new DeviceError(DeviceExit.toolMissing, `${tool} is not on PATH: ${INSTALL_HINT[tool] ?? `install ${tool}`}`, { cause: e }));
      } else reject(new DeviceError(DeviceExit.deviceCommandFailed, `failed to run ${tool}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) {
        reject(new DeviceError(DeviceExit.deviceCommandFailed, `${tool} ${args.join(' ')} ${signal === 'SIGKILL' ? `did not finish within ${timeoutMs / 1000} s` : `died of ${signal}`}: check the device connection`));
      } else resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
