// addon.ts: the collector core in this process (host/addon, node-addon-api),
// when it is built. `record` uses it and falls back to running profinferd when
// it is not, saying why.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type Level = 'token' | 'graph' | 'node';

export interface SessionOptions {
  /** Trace file to write. */
  readonly output: string;
  readonly level?: Level;
  /** Graph structure capture (default true). */
  readonly structure?: boolean;
  /** GGML struct layout: a profile name or key=offset overrides. */
  readonly layout?: string;
  readonly nodeProbes?: 'auto' | 'one' | 'two';
  /** Scheduler events of the targets' threads. */
  readonly sched?: boolean;
  /** Expert ids of every MUL_MAT_ID node. */
  readonly moe?: boolean;
  /** Per-node counters, e.g. "task-clock,page-faults". */
  readonly counters?: string;
  readonly ringBufferKib?: number;
}

export interface SessionStats {
  readonly events: number;
  readonly tokens: number;
  readonly graphs: number;
  readonly nodeRows: number;
  readonly structures: number;
  /** Scheduler events (--sched; 0 without). */
  readonly schedulerEvents: number;
  /** Every event not recorded (dropped in BPF, unattributed, unwritten). */
  readonly lost: number;
  readonly bytesWritten: number;
  readonly modulesAttached: number;
}

/** One pi_collector (collector-c/src/collector.h). */
export interface NativeSession {
  addPid(pid: number): void;
  /** A child held before exec: probes go on `exe` for that pid before it runs. */
  addPidBeforeExec(pid: number, exe: string): void;
  /** Polls on a native thread from now on; add targets before. */
  start(): void;
  stats(): SessionStats;
  /** Whether any engine probe is attached (token level at least). */
  hasEngine(): boolean;
  /** A wrong struct layout stopped the session. */
  failed(): boolean;
  /** Detaches, drains, writes SessionEnd; resolves with the final counts. */
  stop(reason: string, exitCode?: number): Promise<SessionStats>;
}

export interface Addon {
  readonly Session: new (o: SessionOptions) => NativeSession;
  readonly version: string;
}

/** Where node-gyp puts the addon (scripts/setup/35_addon.sh builds it). */
export const ADDON_PATH = fileURLToPath(new URL('../../addon/build/Release/profinfer.node', import.meta.url));

export type AddonLoad = { readonly addon: Addon } | { readonly addon?: undefined; readonly reason: string };

let cached: AddonLoad | undefined;

export function loadAddon(): AddonLoad {
  if (cached) return cached;
  if (process.env.PROFINFER_NO_ADDON) {
    cached = { reason: 'the in-process collector addon is disabled (PROFINFER_NO_ADDON)' };
    return cached;
  }
  if (!existsSync(ADDON_PATH)) {
    cached = { reason: `the in-process collector addon is not built (${ADDON_PATH}); build it with: bash scripts/setup/35_addon.sh` };
    return cached;
  }
  try {
    cached = { addon: createRequire(import.meta.url)(ADDON_PATH) as Addon };
  } catch (err) {
    cached = { reason: `the in-process collector addon does not load: ${err instanceof Error ? err.message : String(err)}` };
  }
  return cached;
}
