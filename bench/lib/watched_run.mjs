// Runs a tracer (which itself starts the target) and watches the tracer's own
// process in /proc while it runs: CPU seconds (utime + stime of its threads,
// not of its children) and peak RSS (VmHWM). The CPU counted is from the moment
// the tracer has a child (the target started) to its last sample, so start-up
// work such as BCC's clang compile is not charged to the workload.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

function readProc(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that ends comm; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    } catch { /* kernels without CONFIG_PROC_CHILDREN: count from the start */ children = '?'; }
    return { cpuS, rssMB: hwm ? Number(hwm[1]) / 1024 : NaN, hasChild: children !== '' };
  } catch {
    return undefined; // gone
  }
}

/**
 * Spawns argv and resolves with its exit status, output, wall time, and the
 * watched tracer CPU / RSS. Rejects on a non-zero exit with the stderr tail.
 */
export function watchedRun(argv, { env = process.env, timeoutMs = 600_000, intervalMs = 50 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 8 << 20) stderr = stderr.slice(-(4 << 20)); });
    let cpuAtStart;
    let cpuS = NaN;
    let rssMB = NaN;
    const poll = setInterval(() => {
      const p = readProc(child.pid);
      if (!p) return;
      if (cpuAtStart === undefined && p.hasChild) cpuAtStart = p.cpuS;
      cpuS = p.cpuS;
      // A zombie's status has no Vm lines: keep the peak seen while it lived.
      if (Number.isFinite(p.rssMB)) rssMB = Number.isFinite(rssMB) ? Math.max(rssMB, p.rssMB) : p.rssMB;
    }, intervalMs);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearInterval(poll); clearTimeout(timer); reject(new Error(`${argv[0]}: ${e.message}`)); });
    child.on('close', (status, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      if (status !== 0) {
        reject(new Error(`${argv.join(' ').slice(0, 300)} exited with ${status ?? signal}: ${stderr.slice(-1500)}`));
        return;
      }
      resolvePromise({
        stdout, stderr, wallS,
        tracerCpuS: cpuS - (cpuAtStart ?? 0),
        tracerRssMB: rssMB,
      });
    });
  });
}
