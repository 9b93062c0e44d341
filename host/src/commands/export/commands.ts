// `export` and `open`, registered together (commands/index.ts spreads this list).
import type { CommandModule } from 'yargs';
import { openCommand } from '../open/command.js';
import { exportCommand } from './command.js';

export const exportCommands: CommandModule<object, any>[] = [exportCommand, openCommand];
