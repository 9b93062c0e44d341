// `profinfer-host connect --hdc|--adb|--tcp HOST:PORT (--pid|--process|--session) -o TRACE`:
// profile on a device live.
import type { Argv, CommandModule } from 'yargs';
import { bridgeOptions, type BridgeArgs } from '../../transport/bridge_args.js';
import { handleDeviceErrors } from '../../transport/device_errors.js';

export const LEVELS = ['token', 'graph', 'node'] as const;
export type LevelName = (typeof LEVELS)[number];

export interface ConnectArgs extends BridgeArgs {
  tcp?: string;
  tokenFile?: string;
  pid?: number;
  process?: string;
  session?: string;
  level?: LevelName;
  counters?: string;
  sched?: boolean;
  moe?: boolean;
  output: string;
  retryFor: number;
  qosEvery: number;
  json?: boolean;
  verbose?: boolean;
}

export const connectCommand: CommandModule<object, ConnectArgs> = {
  command: 'connect',
  describe: 'Profile on a device live: forward a port, start (or join) a session, stream the trace to a file, show QoS',
  builder: (y) =>
    bridgeOptions(y)
      .option('tcp', { type: 'string', describe: 'Reach profinferd serve at HOST:PORT directly (no hdc/adb); needs --token-file' })
      .option('token-file', { type: 'string', describe: 'With --tcp: a copy of the service token (/data/local/tmp/profinfer/auth_token)' })
      .option('pid', { alias: 'p', type: 'number', describe: 'Profile this running process (pid on the device)' })
      .option('process', { type: 'string', describe: 'Profile the process of this name, now or when it starts' })
      .option('session', { type: 'string', describe: 'Join this running session instead of starting one (default without --pid/--process: the only one)' })
      .conflicts('pid', ['process', 'session'])
      .conflicts('process', 'session')
      .conflicts('tcp', ['hdc', 'adb'])
      .option('level', { alias: 'l', choices: LEVELS, describe: 'token | graph | node (default: the service default, node)' })
      .option('counters', { type: 'string', describe: 'Per-node counters, e.g. task-clock,page-faults (see profinferd --help)' })
      .option('sched', { type: 'boolean', describe: 'Also record scheduler switches of the target threads' })
      .option('moe', { type: 'boolean', describe: 'Also record MoE expert routing' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Trace file to write on this machine' })
      .option('retry-for', { type: 'number', default: 60, describe: 'Seconds to keep retrying a dropped connection before giving up' })
      .option('qos-every', { type: 'number', default: 1000, describe: 'Milliseconds between QoS updates' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result (trace, bytes, reconnects, summary) as JSON at the end' })
      .check((a) => {
        if (!a.hdc && !a.adb && !a.tcp) throw new Error('pass --hdc, --adb or --tcp HOST:PORT: how to reach the device');
        return true;
      })
      .example('$0 connect --hdc --process llama-cli -o run.pftrace', 'profile llama-cli on the only OpenHarmony device when it starts')
      .example('$0 connect --adb -s emulator-5554 --pid 4242 --level graph -o run.pftrace', 'a running process, graph level')
      .example('$0 connect --tcp 127.0.0.1:7420 --token-file token --session s-123 -o run.pftrace', 'join a session through your own forward')
      .epilogue(
        'Ctrl-C stops the session and waits for the end of its trace; a second Ctrl-C aborts (the file keeps what arrived).\n' +
          'A dropped connection is retried with back-off and the stream resumes from the last byte received.\n' +
          'Exit codes: 0 done, 10 no hdc/adb, 11 no device, 12 device offline, 13 forward refused, 14 auth rejected,\n' +
          '15 version mismatch, 16 service not running, 17 connection lost for good, 19 not deployed, 21 several devices, 130 aborted.',
      ) as unknown as Argv<ConnectArgs>,
  handler: (args) => handleDeviceErrors(args.verbose, async () => (await import('./connect.js')).connectCommand(args)),
};
