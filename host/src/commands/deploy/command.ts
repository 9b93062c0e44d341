// `profinfer-host deploy --hdc [-t KEY] | --adb [-s SERIAL]`: install the
// collector for the device's architecture and start its service.
import type { Argv, CommandModule } from 'yargs';
import { bridgeOptions, type BridgeArgs } from '../../transport/bridge_args.js';
import { handleDeviceErrors } from '../../transport/device_errors.js';

export interface DeployArgs extends BridgeArgs {
  binary?: string;
  json?: boolean;
  verbose?: boolean;
}

export const deployCommand: CommandModule<object, DeployArgs> = {
  command: 'deploy',
  describe: 'Push profinferd for the device architecture to /data/local/tmp/profinfer and start `profinferd serve`',
  builder: (y) =>
    bridgeOptions(y)
      .option('binary', { type: 'string', describe: 'Collector to push (default: the build for the device arch: build/ or build-aarch64/)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print what was deployed as JSON (for scripts)' })
      .check((a) => {
        if (!a.hdc && !a.adb) throw new Error('pass --hdc or --adb: which bridge reaches the device');
        return true;
      })
      .example('$0 deploy --hdc', 'the only OpenHarmony device')
      .example('$0 deploy --adb -s emulator-5554', 'one Android device of several')
      .epilogue(
        'A running service is stopped and replaced. The service listens on the device loopback (port 7420);\n' +
          'connect reaches it through a port forward with the auth token it creates.\n' +
          'Exit codes: 10 no hdc/adb, 11 no device, 12 device offline, 13 forward refused, 14 auth rejected,\n' +
          '15 version mismatch, 16 service did not start, 20 a device command failed, 21 several devices, 22 no collector build.',
      ) as unknown as Argv<DeployArgs>,
  handler: (args) => handleDeviceErrors(args.verbose, async () => (await import('./deploy.js')).deployCommand(args)),
};
