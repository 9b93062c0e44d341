// The list of commands, one import each.
import type { CommandModule } from 'yargs';
import { analyzeCommand } from './analyze/command.js';
import { exportCommands } from './export/commands.js';
import { modelCommand } from './model/command.js';
import { summaryCommand } from './summary/command.js';

export const commands: CommandModule<object, any>[] = [
  analyzeCommand,
  modelCommand,
  summaryCommand,
  ...exportCommands,
];
