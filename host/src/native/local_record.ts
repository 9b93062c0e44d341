// local_record.ts: profiles a process on this machine with the collector core
// running inside this process (addon.ts), as `profinferd record` would: a
// command is started held before exec, so every probe is attached before
// its first instruction; a PID is followed until it exits.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Addon, SessionOptions, SessionStats } from './addon.js';

export type RecordTarget = { readonly pid: number } | { readonly command: readonly string[] };

export interface LocalRecordResult {
  readonly stats: SessionStats;
  /** Why the session ended: "target exited", "signal". */
  readonly reason: string;
  /** The command's exit code (a PID target: 0). */
  readonly exitCode: number;
  readonly hasEngine: boolean;
  /** The command's stdout and stderr, when hooks.capture was set. */
  readonly stdout?: string;
  readonly stderr?: string;
}

export class LocalRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** The executable `execvp` would run for argv[0]. */
export function resolveExecutable(name: string, path = process.env.PATH ?? ''): string {
  const candidates = name.includes('/') ? [resolve(name)] : path.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return isAbsolute(c) ? c : resolve(c);
    } catch {
      // next
    }
  }
  throw new LocalRecordError(`cannot run ${name}: not found${name.includes('/') ? '' : ' on PATH'} or not executable`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Records `target` into options.output. Resolves when the target exits or
 * `stop` (e.g. on SIGINT) is triggered through the returned controller.
 */
export function recordLocal(
  addon: Addon,
  target: RecordTarget,
  options: SessionOptions,
  hooks: {
    readonly onStart?: (pid: number) => void;
    readonly signal?: AbortSignal;
    /** Collect the command's output instead of passing it through. */
    readonly capture?: boolean;
  } = {},
): Promise<LocalRecordResult> {
  const session = new addon.Session(options);
  if ('pid' in target) {
    session.addPid(target.pid);
    session.start();
    hooks.onStart?.(target.pid);
    return new Promise((done, fail) => {
      const timer = setInterval(() => {
        if (!alive(target.pid)) finish('target exited');
      }, 200);
      const onAbort = (): void => finish('signal');
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      let finishing = false;
      function finish(reason: string): void {
        if (finishing) return;
        finishing = true;
        clearInterval(timer);
        hooks.signal?.removeEventListener('abort', onAbort);
        session.stop(reason, 0).then(
          (stats) => done({ stats, reason, exitCode: 0, hasEngine: session.hasEngine() }),
          (err: unknown) => fail(err),
        );
      }
    });
  }

  const [name, ...args] = target.command;
  if (name === undefined) throw new LocalRecordError('no command to record');
  const exe = resolveExecutable(name);
  // The shell blocks on fd 3 until the probes are attached, then becomes the
  // command (same pid): nothing of it runs unprofiled.
  const child = spawn('/bin/sh', ['-c', 'read -r _ <&3; exec "$0" "$@"', exe, ...args], {
    stdio: ['inherit', hooks.capture ? 'pipe' : 'inherit', hooks.capture ? 'pipe' : 'inherit', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const release = child.stdio[3] as Writable;
  const pid = child.pid;
  if (pid === undefined) throw new LocalRecordError(`cannot start ${name}`);
  // 'close': the process exited and its output pipes are drained.
  const exited = new Promise<{ code: number; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => r({ code: code ?? 128, signal })),
  );
  try {
    session.addPidBeforeExec(pid, exe);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  session.start();
  release.end('go\n');
  hooks.onStart?.(pid);
  return new Promise((done, fail) => {
    let reason = 'target exited';
    const onAbort = (): void => {
      reason = 'signal';
      child.kill('SIGINT');
    };
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    void exited.then(({ code, signal }) => {
      hooks.signal?.removeEventListener('abort', onAbort);
      const exitCode = signal ? 128 : code;
      session.stop(reason, exitCode).then(
        (stats) =>
          done({ stats, reason, exitCode, hasEngine: session.hasEngine(), ...(hooks.capture ? { stdout, stderr } : {}) }),
        (err: unknown) => fail(err),
      );
    });
  });
}
