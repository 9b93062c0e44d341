#!/usr/bin/env node
// profinfer-host: the yargs root and nothing else. Each command lives in
// commands/<name>/command.ts and lazy-loads its handler.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';

await yargs(hideBin(process.argv))
  .scriptName('profinfer-host')
  .usage('$0 <command> [options]\n\nProfile llama.cpp / GGML inference with eBPF: where does token time go?')
  .command(commands)
  .demandCommand(1, 'Pass a command; see --help.')
  .strict()
  .recommendCommands()
  .option('verbose', { type: 'boolean', describe: 'Print full error details', global: true })
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .epilogue('Docs: README.md. Traces are CLOCK_MONOTONIC; see proto/profinfer/v1/profinfer.proto.')
  .parseAsync();
