// bridge_args.ts: the flags that pick a device, shared by connect, deploy and
// pull: --hdc [-t KEY] | --adb [-s SERIAL].
import type { Argv } from 'yargs';
import type { BridgeKind } from './device_transport.js';

export interface BridgeArgs {
  hdc?: boolean;
  adb?: boolean;
  target?: string;
  serial?: string;
}

export function bridgeOptions<T>(y: Argv<T>): Argv<T & BridgeArgs> {
  return y
    .option('hdc', { type: 'boolean', describe: 'An OpenHarmony device, through hdc' })
    .option('adb', { type: 'boolean', describe: 'An Android device, through adb' })
    .option('target', { alias: 't', type: 'string', describe: 'hdc connect key (hdc list targets); default: the only device' })
    .option('serial', { alias: 's', type: 'string', describe: 'adb serial (adb devices); default: the only device' })
    .conflicts('hdc', 'adb')
    .conflicts('target', 'serial')
    .check((a) => {
      if (a.target !== undefined && !a.hdc) throw new Error('-t/--target picks an hdc device: pass --hdc too');
      if (a.serial !== undefined && !a.adb) throw new Error('-s/--serial picks an adb device: pass --adb too');
      return true;
    }) as unknown as Argv<T & BridgeArgs>;
}

/** The bridge and serial chosen, or undefined when neither --hdc nor --adb was given. */
export function chosenBridge(a: BridgeArgs): { bridge: BridgeKind; serial: string | undefined } | undefined {
  if (a.hdc) return { bridge: 'hdc', serial: a.target };
  if (a.adb) return { bridge: 'adb', serial: a.serial };
  return undefined;
}
