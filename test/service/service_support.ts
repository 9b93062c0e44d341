// What the `profinferd serve` tests share: a real service on a free loopback
// port with its own state directory, real clients (host/src/device), and real
// llama.cpp targets (llama-simple on the tiny model).
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, type ConnectOptions } from '../../host/src/device/control_client.js';
import { Proc, type ProcResult, pidAlive, requireProfinferd, requireRoot, waitUntil } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

export const PROMPT = 'Hello my name is';

export interface Service {
  readonly proc: Proc;
  readonly stateDir: string;
  readonly traceDir: string;
  readonly tokenFile: string;
  readonly unixPath: string;
  readonly port: number;
  readonly token: string;
  /** A new authenticated client on TCP. */
  connect(o?: Partial<ConnectOptions>): Promise<ControlClient>;
  /** SIGTERM, wait for it to exit; returns its exit code. */
  stop(): Promise<number | null>;
}

/**
 * The profinferd to serve: build/collector-c/profinferd, or $PROFINFER_SERVE_BIN (e.g. an
 * AddressSanitizer build: cmake -B /tmp/asan -DPROFINFER_SANITIZE=ON -DPROFINFER_STATIC=OFF).
 */
function serveBin(): string {
  return process.env.PROFINFER_SERVE_BIN || requireProfinferd();
}

/** Runs `profinferd serve ARGS` to completion (for options it refuses). */
export function runServe(args: readonly string[]): Promise<ProcResult> {
  return new Proc(serveBin(), ['serve', ...args], { timeoutMs: 30_000 }).done;
}

/** Starts `profinferd serve --foreground` on 127.0.0.1:0 in a fresh state directory. */
export async function startService(extraArgs: readonly string[] = [], stateDir?: string): Promise<Service> {
  requireRoot();
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), 'pi-serve-'));
  const proc = new Proc(serveBin(), ['serve', '--foreground', '--state-dir', dir, '--listen', '127.0.0.1:0', ...extraArgs], {
    timeoutMs: 600_000,
  });
  const port = Number((await proc.waitFor('stderr', /^profinferd: listening on tcp 127\.0\.0\.1:(\d+)$/m, 30_000))[1]);
  await proc.waitFor('stderr', /^profinferd: serving/m, 30_000);
  const tokenFile = join(dir, 'auth_token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  const svc: Service = {
    proc,
    stateDir: dir,
    traceDir: join(dir, 'traces'),
    tokenFile,
    unixPath: join(dir, 'profinferd.sock'),
    port,
    token,
    connect: (o = {}) => ControlClient.connect({ endpoint: { host: '127.0.0.1', port }, token, clientName: 'vitest', ...o }),
    stop: async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
      return (await proc.exited).code;
    },
  };
  return svc;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** llama-simple on the tiny model, decoding `tokens` tokens (about 10 ms each under node-level probes). */
export function startLlama(tokens: number, bin = llamaBin('llama-simple')): Proc {
  return new Proc(bin, ['-m', ensureModel('tiny', 'q8_0'), '-n', String(tokens), PROMPT], { timeoutMs: 300_000 });
}

/**
 * A link to llama-simple with a unique name in `dir`: the process started through it
 * is called that name (its comm), so a name session finds it and nobody else's.
 */
export function uniqueLlamaName(dir: string): { name: string; path: string } {
  const name = `pisvc-${process.pid % 10000}-${Math.floor(Math.random() * 1e4)}`.slice(0, 15);
  const path = join(dir, name);
  symlinkSync(llamaBin('llama-simple'), path);
  return { name, path };
}

export function killIfAlive(p: Proc | undefined): void {
  if (p && p.child.exitCode === null && p.child.signalCode === null && pidAlive(p.pid)) p.child.kill('SIGKILL');
}

/** Waits until Status shows `sessionId` with at least `minBytes` written. */
export async function waitForBytes(c: ControlClient, sessionId: string, minBytes: number, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    async () => {
      const s = (await c.status()).find((x) => x.sessionId === sessionId);
      return Number(s?.bytesWritten ?? 0) >= minBytes;
    },
    `session ${sessionId} has written ${minBytes} bytes`,
    timeoutMs,
    50,
  );
}

/** Reads the status of one session. */
export async function sessionStatus(c: ControlClient, sessionId: string) {
  return (await c.status()).find((x) => x.sessionId === sessionId);
}

export { waitUntil };
