// `profinfer-host diff A B`: what changed between two runs, ranked.
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';

export interface DiffArgs {
  a: string;
  b: string;
  json?: boolean;
  html?: string;
  top: number;
  verbose?: boolean;
}

export const diffCommand: CommandModule<object, DiffArgs> = {
  command: 'diff <a> <b>',
  describe: 'Compare two traces: headline numbers and the op / layer / block times per token that changed most',
  builder: (y) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'The baseline trace (A)' })
      .positional('b', { type: 'string', demandOption: true, describe: 'The trace to compare with it (B)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the comparison as JSON (for scripts)' })
      .option('html', { type: 'string', describe: 'Also write a self-contained HTML page side by side' })
      .option('top', { type: 'number', default: 15, describe: 'Changes to show' })
      .example('$0 diff q8_0.pftrace f16.pftrace', 'which ops got slower with F16 weights')
      .example('$0 diff t1.pftrace t2.pftrace --html diff.html', 'one thread against two, as a page') as Argv<DiffArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./diff.js')).diffCommand(args)),
};
