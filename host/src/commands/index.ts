// The list of commands, one import each.
import type { CommandModule } from 'yargs';

export const commands: CommandModule<object, any>[] = [];
