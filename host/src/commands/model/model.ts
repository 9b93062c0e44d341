// Handlers for `model generate` and `model path`: the only code here that
// touches files or the console. Generation streams to `<out>.tmp-<pid>` and
// renames, so a killed run never leaves a half-written model behind.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { modelCachePath } from '../../gguf/model_cache.js';
import { modelChunks, planModel } from '../../gguf/model_generator.js';
import type { ModelArgs } from './command.js';

export class ModelGenerateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** Files at least this big get progress lines on stderr. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * mkdir -p one level at a time: Node's `{ recursive: true }` spins forever where
 * mkdir fails with ENOENT under an existing parent (e.g. in /proc).
 */
function makeDirs(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error('it exists and is not a directory');
    return;
  }
  const parent = dirname(dir);
  if (parent !== dir) makeDirs(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another run made it first
  }
}

export async function pathCommand(args: ModelArgs): Promise<void> {
  process.stdout.write(`${modelCachePath(args.preset, args.type, args.seed)}\n`);
}

export async function generateCommand(args: ModelArgs): Promise<void> {
  const out = resolve(args.output ?? modelCachePath(args.preset, args.type, args.seed));
  if (existsSync(out) && !args.force) {
    process.stderr.write(`model exists, skipping: ${out}\n`);
    process.stdout.write(`${out}\n`);
    return;
  }
  const plan = planModel(args.preset, args.type, args.seed);
  const total = plan.header.fileBytes;
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    makeDirs(dirname(out));
  } catch (err) {
    throw new ModelGenerateError(`failed to create ${dirname(out)}: ${(err as Error).message}`, { cause: err });
  }
  const started = performance.now();
  // Writes are awaited so a signal handler can run between chunks; on SIGINT or
  // SIGTERM the temp file is removed and the signal re-raised.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let file: FileHandle | undefined;
  // One write stays in flight while the next chunk is generated, so the disk and
  // the CPU work at the same time. Chunks reuse buffers: copy before handing off.
  let inFlight: Promise<void> = Promise.resolve();
  const writeAll = async (fh: FileHandle, bytes: Uint8Array): Promise<void> => {
    for (let off = 0; off < bytes.length; ) off += (await fh.write(bytes, off)).bytesWritten;
  };
  try {
    file = await open(tmp, 'w');
    let written = 0;
    let nextReport = total >= PROGRESS_MIN_BYTES ? 0 : Infinity;
    for (const chunk of modelChunks(plan)) {
      const copy = chunk.slice();
      await inFlight;
      if (interrupted) throw new ModelGenerateError(`interrupted by ${interrupted}`);
      inFlight = writeAll(file, copy);
      written += chunk.length;
      if (written >= nextReport) {
        process.stderr.write(`  ${plan.preset.name} ${args.type}: ${mib(written)} / ${mib(total)} (${Math.floor((100 * written) / total)}%)\n`);
        nextReport = written + total / 10;
      }
    }
    await inFlight;
    if (written !== total) throw new ModelGenerateError(`internal error: wrote ${written} bytes, planned ${total}`);
    await file.sync();
    await file.close();
    file = undefined;
    await rename(tmp, out);
  } catch (err) {
    await inFlight.catch(() => undefined);
    await file?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    if (interrupted) process.kill(process.pid, interrupted);
    if (err instanceof ModelGenerateError) throw err;
    throw new ModelGenerateError(`failed to write ${out}: ${(err as Error).message}`, { cause: err });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const secs = (performance.now() - started) / 1000;
  process.stderr.write(
    `generated ${plan.preset.name} ${args.type} (${(plan.parameterCount / 1e6).toFixed(1)}M params, ${mib(total)}) in ${secs.toFixed(1)} s: ${out}\n`,
  );
  process.stdout.write(`${out}\n`);
}
