// device_errors.ts: how talking to a device fails. Each failure is one line
// that says what to do, and its own exit code, so scripts can tell "no device"
// from "auth rejected" without parsing text.
import { handleErrors } from '../commands/handle_errors.js';

/** Exit codes of connect, deploy, devices, pull and record (0-2 as every command: ok, failure, usage). */
export const DeviceExit = {
  toolMissing: 10,
  noDevice: 11,
  deviceOffline: 12,
  forwardRefused: 13,
  authRejected: 14,
  versionMismatch: 15,
  serviceDown: 16,
  connectionLost: 17,
  traceInvalid: 18,
  notDeployed: 19,
  deviceCommandFailed: 20,
  severalDevices: 21,
  noCollectorBinary: 22,
  interrupted: 130,
} as const;
export type DeviceExitCode = (typeof DeviceExit)[keyof typeof DeviceExit];

/** A failure with a device, its transport or its service: the message says what to do. */
export class DeviceError extends Error {
  constructor(
    readonly exitCode: DeviceExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** handleErrors, plus DeviceError's own exit code. */
export function handleDeviceErrors(verbose: boolean | undefined, fn: () => Promise<number | void>): Promise<void> {
  return handleErrors(verbose, async () => {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      process.stderr.write(`error: ${e.message}\n`);
      if (verbose) process.stderr.write(`${e.stack ?? ''}\n${e.cause ? `cause: ${String(e.cause)}\n` : ''}`);
      return e.exitCode;
    }
  });
}
