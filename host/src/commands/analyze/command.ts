// `profinfer-host analyze TRACE [--json] [--dag OUT.dot|OUT.json] [--peaks G,B]`:
// ProfDAG, ProfStat and roofline verdicts of a trace (host/src/analysis/).
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';

export interface AnalyzeArgs {
  trace: string;
  json?: boolean;
  dag?: string;
  peaks?: string;
  top: number;
  verbose?: boolean;
}

export const analyzeCommand: CommandModule<object, AnalyzeArgs> = {
  command: 'analyze <trace>',
  describe: 'Operator DAG, time per op / layer / block / thread, and memory- or compute-bound verdicts',
  builder: (y) =>
    y
      .positional('trace', { type: 'string', demandOption: true, describe: 'A ProfInfer trace file (node level)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print everything as JSON (for scripts)' })
      .option('dag', {
        type: 'string',
        describe: 'Write the DAG: OUT.dot (Graphviz; the largest distinct graph, the most computed of equals) or OUT.json (all graphs)',
      })
      .option('peaks', {
        type: 'string',
        describe: 'Machine peaks "GFLOPS,GBPS" for the roofline (default: a short built-in micro-benchmark)',
      })
      .option('top', { type: 'number', default: 12, describe: 'Rows per table' })
      .example('$0 analyze run.pftrace', 'the tables')
      .example('$0 analyze run.pftrace --dag graph.dot && dot -Tsvg graph.dot > graph.svg', 'the DAG as a picture')
      .example('$0 analyze run.pftrace --peaks 200,40 --json | jq .roofline.ops', 'verdicts against known peaks') as Argv<AnalyzeArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./analyze.js')).analyzeCommand(args)),
};
