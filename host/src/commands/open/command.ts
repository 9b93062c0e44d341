// `profinfer-host open TRACE`: converts a trace to Perfetto and opens it in the
// Perfetto UI, served the way Perfetto's tools/open_trace_in_ui does it.
import type { Argv, CommandModule } from 'yargs';
import { handleErrors } from '../handle_errors.js';

export interface OpenArgs {
  trace: string;
  'print-url'?: boolean;
  ui?: string;
  port: number;
  origin: string;
  flows?: number;
  verbose?: boolean;
}

export const openCommand: CommandModule<object, OpenArgs> = {
  command: 'open <trace>',
  describe: 'Open a trace in the Perfetto UI (serves it once on 127.0.0.1, like open_trace_in_ui)',
  builder: (y) =>
    y
      .positional('trace', { type: 'string', demandOption: true, describe: 'A ProfInfer trace file' })
      .option('print-url', { type: 'boolean', default: false, describe: 'Print the URL instead of starting a browser' })
      .option('ui', {
        type: 'string',
        describe: 'Serve a static Perfetto UI build from this directory too (air-gapped machines)',
      })
      .option('port', {
        type: 'number',
        default: 9001,
        describe: "Loopback port (9001 is the one ui.perfetto.dev's content-security policy allows)",
      })
      .option('origin', {
        type: 'string',
        default: 'https://ui.perfetto.dev',
        describe: 'The Perfetto UI to open (and allow by CORS); ignored with --ui',
      })
      .option('flows', {
        type: 'number',
        describe: 'Draw the graph DAG edges of the llama_decode call with this seq (1-based) as flow arrows',
      })
      .example('$0 open run.pftrace', 'opens ui.perfetto.dev with the trace')
      .example('$0 open run.pftrace --print-url', 'on a remote shell: prints the URL, serves one fetch')
      .example('$0 open run.pftrace --ui ~/perfetto-ui', 'a UI build on this machine, no internet needed') as Argv<OpenArgs>,
  handler: (args) => handleErrors(args.verbose, async () => (await import('./open.js')).openCommand(args)),
};
