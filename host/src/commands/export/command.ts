// `profinfer-host export TRACE [-o OUT] [--format perfetto|json]`: a ProfInfer
// trace as a Perfetto trace (native protobuf) or Chrome JSON.
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';

export const EXPORT_FORMATS = ['perfetto', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportArgs {
  trace: string;
  output?: string;
  format: ExportFormat;
  json?: boolean;
  progress?: boolean;
  flows?: number;
  verbose?: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export <trace>',
  describe: 'Convert a trace for Perfetto (native protobuf, default) or as Chrome JSON',
  builder: (y) =>
    y
      .positional('trace', { type: 'string', demandOption: true, describe: 'A ProfInfer trace file' })
      .option('output', {
        alias: 'o',
        type: 'string',
        describe: 'Where to write ("-": stdout); default: TRACE with .perfetto-trace or .json',
      })
      .option('format', {
        choices: EXPORT_FORMATS,
        default: 'perfetto' as ExportFormat,
        describe: 'perfetto: native Perfetto protobuf; json: Chrome JSON (traceEvents)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON line with what was written (for scripts)' })
      .option('flows', {
        type: 'number',
        describe: 'Draw the graph DAG edges of the llama_decode call with this seq (1-based) as flow arrows',
      })
      .option('progress', { type: 'boolean', describe: 'Progress on stderr (default: for big files on a terminal)' })
      .example('$0 export run.pftrace', 'writes run.perfetto-trace for ui.perfetto.dev')
      .example('$0 export run.pftrace --format json -o run.json', 'Chrome JSON for chrome://tracing')
      .example('$0 export run.pftrace --flows 2', 'with arrows along the data flow of the second call') as Argv<ExportArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./export.js')).exportCommand(args)),
};
