// The one way a command fails: one line on stderr, a hint to pass --verbose,
// and a non-zero exit code. Commands lazy-load their handler inside it.

/** Exit codes with a meaning scripts can rely on. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

/** Runs a handler; on failure prints one line (the stack with --verbose) and sets the exit code. */
export async function handleErrors(verbose: boolean | undefined, fn: () => Promise<number | void>): Promise<void> {
  try {
    const code = await fn();
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`error: ${e.message}\n`);
    if (verbose) process.stderr.write(`${e.stack ?? ''}\n${e.cause ? `cause: ${String(e.cause)}\n` : ''}`);
    else process.stderr.write('Pass --verbose to see the stack trace.\n');
    process.exitCode = ExitCode.failure;
  }
}
