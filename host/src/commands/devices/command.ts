// `profinfer-host devices [--hdc|--adb] [--json]`: every device hdc and adb
// reach, and what each runs.
import type { Argv, CommandModule } from 'yargs';
import { handleDeviceErrors } from '../../transport/device_errors.js';

export interface DevicesArgs {
  hdc?: boolean;
  adb?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export const devicesCommand: CommandModule<object, DevicesArgs> = {
  command: 'devices',
  describe: 'List the OpenHarmony (hdc) and Android (adb) devices attached, their architecture and collector',
  builder: (y) =>
    y
      .option('hdc', { type: 'boolean', describe: 'Only devices hdc lists' })
      .option('adb', { type: 'boolean', describe: 'Only devices adb lists' })
      .conflicts('hdc', 'adb')
      .option('json', { type: 'boolean', default: false, describe: 'Print the list as JSON (for scripts)' })
      .example('$0 devices', 'every device, with its architecture and profinferd version')
      .example('$0 devices --adb --json | jq -r ".devices[].serial"', 'serials, for a script')
      .epilogue('Exit codes: 0 listed (even none), 10 neither hdc nor adb is on PATH.') as Argv<DevicesArgs>,
  handler: (args) => handleDeviceErrors(args.verbose, async () => (await import('./devices.js')).devicesCommand(args)),
};
