// Profiles a process on this machine. With the in-process collector (the
// node-addon-api addon, host/addon) when it is built; otherwise runs
// `profinferd record`, saying so.
import { spawn } from 'node:child_process';
import { loadAddon } from '../../native/addon.js';
import { recordLocal } from '../../native/local_record.js';
import { localCollector } from '../../transport/device_layout.js';
import type { RecordArgs } from './command.js';

export function recordArgv(a: RecordArgs): string[] {
  const argv = ['record', '-o', a.output];
  if (a.level) argv.push('--level', a.level);
  if (a.counters) argv.push('--counters', a.counters);
  if (a.sched) argv.push('--sched');
  if (a.moe) argv.push('--moe');
  if (a.pid !== undefined) argv.push('--pid', String(a.pid));
  else argv.push('--', ...(a['--'] ?? []).map(String));
  return argv;
}

export async function recordCommand(a: RecordArgs): Promise<number> {
  const load = loadAddon();
  if (load.addon) return recordInProcess(a, load.addon);
  const bin = localCollector();
  process.stderr.write(`record: ${load.reason}; running ${bin} record\n`);
  const child = spawn(bin, recordArgv(a), { stdio: 'inherit' });
  // Ctrl-C reaches profinferd too (same process group): it ends the trace cleanly; wait for it.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, sig) => resolve(c ?? (sig ? 128 + (sig === 'SIGINT' ? 2 : 15) : 1)));
    });
    if (code === 0) process.stderr.write(`record: wrote ${a.output}; open it: profinfer-host open ${a.output}\n`);
    return code;
  } finally {
    process.off('SIGINT', ignore);
  }
}

async function recordInProcess(a: RecordArgs, addon: NonNullable<ReturnType<typeof loadAddon>['addon']>): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const target = a.pid !== undefined ? { pid: a.pid } : { command: (a['--'] ?? []).map(String) };
    const level = (a.level ?? 'node') as 'token' | 'graph' | 'node';
    const r = await recordLocal(
      addon,
      target,
      { output: a.output, level, counters: a.counters, sched: a.sched, moe: a.moe },
      {
        signal: stop.signal,
        onStart: (pid) => process.stderr.write(`record: recording process ${pid} at ${level} level in process to ${a.output} (Ctrl-C stops)\n`),
      },
    );
    const s = r.stats;
    process.stderr.write(
      `record: ${r.reason}. Recorded ${s.tokens} tokens, ${s.graphs} graphs, ${s.nodeRows} node events` +
        `${s.schedulerEvents ? `, ${s.schedulerEvents} scheduler events` : ''}; lost ${s.lost}; ` +
        `${(s.bytesWritten / 1e6).toFixed(2)} MB written to ${a.output}\n`,
    );
    if (!r.hasEngine) {
      process.stderr.write('record: error: no llama.cpp / GGML code was found in the target: is it a llama.cpp program?\n');
      return 1;
    }
    process.stderr.write(`record: open it: profinfer-host open ${a.output}\n`);
    return a.pid !== undefined ? 0 : r.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
