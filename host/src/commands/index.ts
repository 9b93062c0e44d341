// The list of commands, one import each.
import type { CommandModule } from 'yargs';
import { modelCommand } from './model/command.js';
import { summaryCommand } from './summary/command.js';

export const commands: CommandModule<object, any>[] = [
  modelCommand,
  summaryCommand,
];
