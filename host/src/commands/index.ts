// The list of commands, one import each.
import type { CommandModule } from 'yargs';
import { analyzeCommand } from './analyze/command.js';
import { connectCommand } from './connect/command.js';
import { deployCommand } from './deploy/command.js';
import { devicesCommand } from './devices/command.js';
import { diffCommand } from './diff/command.js';
import { exportCommands } from './export/commands.js';
import { modelCommand } from './model/command.js';
import { pullCommand } from './pull/command.js';
import { recordCommand } from './record/command.js';
import { reportCommand } from './report/command.js';
import { summaryCommand } from './summary/command.js';

export const commands: CommandModule<object, any>[] = [
  analyzeCommand,
  modelCommand,
  summaryCommand,
  reportCommand,
  diffCommand,
  ...exportCommands,
  connectCommand,
  devicesCommand,
  deployCommand,
  pullCommand,
  recordCommand,
];
