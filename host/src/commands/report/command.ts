// `profinfer-host report TRACE -o report.html`: one self-contained HTML file
// with the views of `analyze` as plots (host/src/report/).
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';

export interface ReportArgs {
  trace: string;
  output?: string;
  peaks?: string;
  top: number;
  json?: boolean;
  verbose?: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <trace>',
  describe: 'One self-contained HTML report: time per op and layer, token timeline, threads, experts, roofline, DAG',
  builder: (y) =>
    y
      .positional('trace', { type: 'string', demandOption: true, describe: 'A ProfInfer trace file (node level)' })
      .option('output', { alias: 'o', type: 'string', describe: 'HTML file to write (default: TRACE with .html)' })
      .option('peaks', { type: 'string', describe: 'Machine peaks "GFLOPS,GBPS" for the roofline (default: measured here)' })
      .option('top', { type: 'number', default: 15, describe: 'Rows per ranked chart' })
      .option('json', { type: 'boolean', default: false, describe: 'Print where the report went and its headline numbers as JSON' })
      .example('$0 report run.pftrace', 'writes run.html; open it in any browser, offline')
      .example('$0 report run.pftrace -o /tmp/r.html --peaks 200,40', 'against known machine peaks') as Argv<ReportArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./report.js')).reportCommand(args)),
};
