// `profinfer-host pull --hdc|--adb [-t KEY|-s SERIAL|--all-devices] [--since DATE] [-o DIR]`:
// batch-pull the traces stored on devices, verify and convert them.
import type { Argv, CommandModule } from 'yargs';
import { bridgeOptions, type BridgeArgs } from '../../transport/bridge_args.js';
import { handleDeviceErrors } from '../../transport/device_errors.js';

export interface PullArgs extends BridgeArgs {
  allDevices?: boolean;
  since?: string;
  outputDir: string;
  convert: boolean;
  json?: boolean;
  verbose?: boolean;
}

export const pullCommand: CommandModule<object, PullArgs> = {
  command: 'pull',
  describe: 'Pull the traces stored on devices (hdc file recv / adb pull), verify them, skip what is here, convert for Perfetto',
  builder: (y) =>
    bridgeOptions(y)
      .option('all-devices', { type: 'boolean', describe: 'Every device the bridge lists (offline ones are reported)' })
      .conflicts('all-devices', ['target', 'serial'])
      .option('since', { type: 'string', describe: 'Only traces started at or after this date (e.g. 2026-11-23 or 2026-11-23T10:00Z)' })
      .option('output-dir', { alias: 'o', type: 'string', default: 'traces', describe: 'Where to put them: DIR/<serial>/<trace id>.pftrace' })
      .option('convert', { type: 'boolean', default: true, describe: 'Also write <trace id>.perfetto-trace next to each (--no-convert: do not)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print what was pulled, skipped or failed as JSON (progress stays on stderr)' })
      .check((a) => {
        if (!a.hdc && !a.adb) throw new Error('pass --hdc or --adb: which bridge reaches the devices');
        if (a.since !== undefined && Number.isNaN(Date.parse(a.since))) throw new Error(`--since wants a date such as 2026-11-23 or 2026-11-23T10:00Z, not '${a.since}'`);
        return true;
      })
      .example('$0 pull --hdc', 'every finished trace on the only OpenHarmony device into ./traces')
      .example('$0 pull --adb --all-devices --since 2026-11-23 -o ~/traces', "today's traces from every Android device")
      .epilogue(
        'Lists traces through profinferd serve when it runs, otherwise reads the trace directory with shell ls.\n' +
          'Each pulled trace must be readable to its last packet and as big as the device index says.\n' +
          'Exit codes: 0 all pulled or skipped, 10 no hdc/adb, 11 no device, 12 device offline, 18 a trace failed\n' +
          'verification, 20 a device command failed, 21 several devices (pass -t/-s or --all-devices).',
      ) as unknown as Argv<PullArgs>,
  handler: (args) => handleDeviceErrors(args.verbose, async () => (await import('./pull.js')).pullCommand(args)),
};
