// `profinfer-host summary TRACE [--json]`: what a user checks first.
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';

export interface SummaryArgs {
  trace: string;
  json?: boolean;
  top: number;
  verbose?: boolean;
}

export const summaryCommand: CommandModule<object, SummaryArgs> = {
  command: 'summary <trace>',
  describe: 'Tokens/s, TTFT, TPOT, graphs, node events, loss and the top operators of a trace',
  builder: (y) =>
    y
      .positional('trace', { type: 'string', demandOption: true, describe: 'A ProfInfer trace file' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON (for scripts)' })
      .option('top', { type: 'number', default: 10, describe: 'How many operators to list' })
      .example('$0 summary run.pftrace', 'the overview')
      .example('$0 summary run.pftrace --json | jq .tokens_per_s', 'one figure, for a script') as Argv<SummaryArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./summary.js')).summaryCommand(args)),
};
