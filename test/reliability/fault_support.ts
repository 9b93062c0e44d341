// What the fault and load tests in test/reliability/ share: a small tmpfs to
// fill, the kernel's view of the BPF objects and file descriptors a process
// holds, and its resident memory, all read from /proc and bpftool: the truth
// the collector and the service do not report about themselves.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventKind } from '../../host/src/proto.js';
import {
  type BpfObjects, type DecodedTrace, PROGRAM_NAMES, bpftoolLinks, bpftoolProgs, heldProgIds, lossByKind, waitUntil,
} from '../support/collector.js';

/** A tmpfs of `kib` KiB mounted on a fresh directory; `unmount` removes both. */
export interface SmallDisk {
  readonly dir: string;
  unmount(): void;
}

export function mountSmallTmpfs(kib: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'pi-rel-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', dir]);
  return {
    dir,
    unmount: () => {
      try {
        execFileSync('umount', ['-l', dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Open file descriptors of a process (entries of /proc/PID/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** VmRSS of a process in KiB, or undefined once it has gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Programs and links of `held` (what a collector held while it ran) still in the
 * kernel, plus programs named like ours that no process holds; waits up to 10 s
 * for the kernel to free them (link release is asynchronous). Empty: nothing left.
 */
export async function bpfLeftBehind(held: BpfObjects): Promise<string[]> {
  const progs = new Set(held.progIds);
  const links = new Set(held.linkIds);
  const ours = new Set(PROGRAM_NAMES);
  let left: string[] = [];
  await waitUntil(
    () => {
      const holding = heldProgIds();
      left = [
        ...bpftoolProgs().filter((p) => progs.has(p.id)).map((p) => `prog ${p.id} ${p.name ?? ''}`),
        ...bpftoolLinks().filter((l) => links.has(l.id) || progs.has(l.prog_id)).map((l) => `link ${l.id} -> prog ${l.prog_id}`),
        ...bpftoolProgs().filter((p) => ours.has(p.name ?? '') && !holding.has(p.id)).map((p) => `unheld prog ${p.id} ${p.name}`),
      ];
      return left.length === 0;
    },
    'the kernel has freed our BPF programs and links',
    10_000,
    100,
  ).catch(() => undefined);
  return left;
}

/** SessionEnd's recorded and lost counts of one kind, as numbers. */
export function countsOf(t: DecodedTrace, kind: EventKind): { recorded: number; lost: number } {
  return {
    recorded: Number(lossByKind(t.sessionEnd?.totals?.recorded)[kind] ?? 0n),
    lost: Number(lossByKind(t.sessionEnd?.totals?.lost)[kind] ?? 0n),
  };
}

/** The "lost N" figure of profinferd record's closing summary line. */
export function summaryLost(stderr: string): number | undefined {
  const m = /^profinferd: [^\n]*Recorded \d+ tokens, [^\n]*; lost (\d+);/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export { EventKind };
