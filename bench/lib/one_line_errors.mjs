// Imported first by every bench script: a failure prints one `error:` line that
// says what to do (the messages are written that way), not a stack trace;
// PROFINFER_BENCH_DEBUG=1 keeps the stack.
const fail = (e) => {
  process.stderr.write(process.env.PROFINFER_BENCH_DEBUG === '1' ? `${e?.stack ?? e}\n` : `error: ${e?.message ?? e}\n`);
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
