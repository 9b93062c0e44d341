// device_transport.ts: what profinfer-host needs from a device bridge (hdc or
// adb): list devices, run a shell command, forward a TCP port, copy files.
// hdc.ts and adb.ts implement it; tests use the emulators in test/device/bin.

export type BridgeKind = 'hdc' | 'adb';

/** A device as its bridge lists it. */
export interface BridgeDevice {
  readonly bridge: BridgeKind;
  /** hdc's connect key or adb's serial. */
  readonly serial: string;
  /** "device" when usable; otherwise what the bridge says ("offline", "unauthorized", ...). */
  readonly state: string;
  /** What else the bridge says about it (adb -l: model, transport; hdc -v: connection type). */
  readonly details: Readonly<Record<string, string>>;
}

export interface ShellResult {
  /** The command's exit status on the device. */
  readonly code: number;
  readonly stdout: string;
}

/** One device reached through its bridge. */
export interface DeviceTransport {
  readonly bridge: BridgeKind;
  readonly serial: string;
  /** Runs `sh -c cmd` on the device. */
  shell(cmd: string, timeoutMs?: number): Promise<ShellResult>;
  /** Forwards the host's 127.0.0.1:local to the device's 127.0.0.1:remote. */
  forward(local: number, remote: number): Promise<void>;
  removeForward(local: number, remote: number): Promise<void>;
  /** Copies a host file to the device. */
  push(local: string, remote: string): Promise<void>;
  /** Copies a device file to the host. */
  pull(remote: string, local: string): Promise<void>;
}

/** Marks the end of a shell command's output with its exit status (hdc shell does not return it). */
export const SHELL_STATUS_MARK = '__PROFINFER_STATUS=';

/** `cmd` wrapped so that its exit status is the last line of output. */
export function withStatus(cmd: string): string {
  return `${cmd}; echo "${SHELL_STATUS_MARK}$?"`;
}

/** Splits the output of withStatus(): the command's output and its status (undefined: the mark is missing). */
export function parseStatus(out: string): { stdout: string; code: number | undefined } {
  const text = out.replace(/\r\n/g, '\n');
  const i = text.lastIndexOf(SHELL_STATUS_MARK);
  if (i < 0) return { stdout: text, code: undefined };
  const m = /^(\d{1,3})\s*$/.exec(text.slice(i + SHELL_STATUS_MARK.length));
  return { stdout: text.slice(0, i), code: m ? Number(m[1]) : undefined };
}

/** Quotes a word for the device's sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
