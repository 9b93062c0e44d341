// Running the real profinfer-host CLI (host/dist/cli.js, `npm run build -w host`)
// against the emulated devices.
import { existsSync } from 'node:fs';
import { Proc, run, type ProcResult } from '../support/collector.js';
import { CLI, REPO_ROOT, type DeviceLab } from './emulated_device.js';

function requireCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build -w host\` first`);
}

export function runCli(lab: DeviceLab, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<ProcResult> {
  requireCli();
  return run(process.execPath, [CLI, ...args], { env: lab.env(env), cwd: REPO_ROOT, timeoutMs });
}

export function startCli(lab: DeviceLab, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Proc {
  requireCli();
  return new Proc(process.execPath, [CLI, ...args], { env: lab.env(env), cwd: REPO_ROOT, timeoutMs });
}

/** The last line of stderr that starts with "error:". */
export function errorLine(r: ProcResult): string {
  return r.stderr.split('\n').filter((l) => l.startsWith('error:')).pop() ?? '';
}
