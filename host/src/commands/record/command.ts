// `profinfer-host record -o TRACE [--pid PID | -- COMMAND...]`: profile on
// this Linux machine, no device.
import type { Argv, CommandModule } from 'yargs';
import { handleDeviceErrors } from '../../transport/device_errors.js';

export interface RecordArgs {
  output: string;
  pid?: number;
  level?: string;
  counters?: string;
  sched?: boolean;
  moe?: boolean;
  '--'?: (string | number)[];
  verbose?: boolean;
}

export const recordCommand: CommandModule<object, RecordArgs> = {
  command: 'record',
  describe: 'Profile a llama.cpp process on this Linux machine, with the collector in process (needs root)',
  builder: (y) =>
    y
      .parserConfiguration({ 'populate--': true })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Trace file to write' })
      .option('pid', { alias: 'p', type: 'number', describe: 'Attach to this running process' })
      .option('level', { alias: 'l', choices: ['token', 'graph', 'node'], describe: 'token | graph | node (default node)' })
      .option('counters', { type: 'string', describe: 'Per-node counters, e.g. task-clock,page-faults' })
      .option('sched', { type: 'boolean', describe: 'Also record scheduler switches of the target threads' })
      .option('moe', { type: 'boolean', describe: 'Also record MoE expert routing' })
      .check((a) => {
        const cmd = (a['--'] as unknown[] | undefined) ?? [];
        if ((a.pid === undefined) === (cmd.length === 0)) throw new Error('pass --pid PID or -- COMMAND [ARGS...] (one of them)');
        return true;
      })
      .example('$0 record -o run.pftrace -- llama-cli -m model.gguf -p "Hello" -n 32', 'run and profile a command')
      .example('$0 record -o run.pftrace --pid 4242', 'attach to a running process; Ctrl-C ends the trace')
      .epilogue(
        'The collector core runs inside this process (the node-addon-api addon, host/addon, built by\n' +
          'scripts/setup/35_addon.sh). Without it, record runs profinferd record (build/collector-c/profinferd,\n' +
          'or $PROFINFERD) and says so. Exit code: the command\'s own; 22 when no collector is built.',
      ) as Argv<RecordArgs>,
  handler: (args) => handleDeviceErrors(args.verbose, async () => (await import('./record.js')).recordCommand(args)),
};
