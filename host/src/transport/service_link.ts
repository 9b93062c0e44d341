// service_link.ts: an authenticated connection to profinferd serve on a
// device: read its token through the bridge's shell, forward a free host port
// to its loopback port, Hello. Or straight to HOST:PORT with --tcp. Each way
// it can fail is a DeviceError that says what to do.
import { readFile } from 'node:fs/promises';
import {
  ControlClient,
  ControlConnectionError,
  ControlError,
  ControlVersionError,
  type Endpoint,
} from '../device/control_client.js';
import { ErrorCode } from '../proto.js';
import { DeviceError, DeviceExit } from './device_errors.js';
import { DEVICE_TOKEN, SERVICE_PORT } from './device_layout.js';
import { shQuote, type DeviceTransport } from './device_transport.js';
import { freeLoopbackPort } from './free_port.js';

/** A token as profinferd writes it: printable, no spaces. */
const TOKEN_RE = /^[\x21-\x7e]{16,256}$/;

export function validToken(raw: string, where: string): string {
  const t = raw.trim();
  if (!TOKEN_RE.test(t)) throw new DeviceError(DeviceExit.authRejected, `${where} does not hold a profinferd auth token: redeploy with profinfer-host deploy`);
  return t;
}

/** The service's token, read on the device. */
export async function readDeviceToken(t: DeviceTransport, tokenPath = DEVICE_TOKEN): Promise<string> {
  const r = await t.shell(`cat ${shQuote(tokenPath)}`);
  if (r.code !== 0) {
    throw new DeviceError(
      DeviceExit.notDeployed,
      `profinferd is not deployed on ${t.bridge} device ${t.serial} (no ${tokenPath}): run profinfer-host deploy --${t.bridge} ${t.bridge === 'hdc' ? '-t' : '-s'} ${t.serial}`,
    );
  }
  return validToken(r.stdout, `${tokenPath} on ${t.serial}`);
}

/** A port forward that is removed again by close(). */
export interface Forward {
  readonly local: number;
  readonly remote: number;
  close(): Promise<void>;
}

export async function openForward(t: DeviceTransport, remote = SERVICE_PORT): Promise<Forward> {
  const local = await freeLoopbackPort();
  await t.forward(local, remote);
  let closed = false;
  return {
    local,
    remote,
    close: async () => {
      if (closed) return;
      closed = true;
      await t.removeForward(local, remote).catch(() => undefined);
    },
  };
}

/** Hello on `endpoint`, with profinferd's refusals as DeviceErrors; `where` names the device in messages. */
export async function helloService(
  endpoint: Endpoint,
  token: string,
  where: { label: string; redeploy: string },
  timeoutMs = 10_000,
): Promise<ControlClient> {
  try {
    return await ControlClient.connect({ endpoint, token, clientName: 'profinfer-host', timeoutMs });
  } catch (e) {
    throw serviceError(e, where);
  }
}

export function serviceError(e: unknown, where: { label: string; redeploy: string }): unknown {
  if (e instanceof ControlVersionError || (e instanceof ControlError && e.code === ErrorCode.ERROR_CODE_VERSION_MISMATCH)) {
    return new DeviceError(DeviceExit.versionMismatch, `${where.label}: ${(e as Error).message}; ${where.redeploy}`, { cause: e });
  }
  if (e instanceof ControlError && e.code === ErrorCode.ERROR_CODE_UNAUTHENTICATED) {
    return new DeviceError(DeviceExit.authRejected, `${where.label} rejected the auth token (${e.message}): ${where.redeploy}`, { cause: e });
  }
  if (e instanceof ControlConnectionError) {
    return new DeviceError(DeviceExit.serviceDown, `profinferd is not answering on ${where.label} (${e.message}): ${where.redeploy}`, { cause: e });
  }
  return e;
}

/** How to fix the service on a device, for messages. */
export function redeployHint(t: DeviceTransport): string {
  return `start it with profinfer-host deploy --${t.bridge} ${t.bridge === 'hdc' ? '-t' : '-s'} ${t.serial}`;
}

export interface ServiceLink {
  readonly client: ControlClient;
  readonly label: string;
  /** Connects again (same forward, same token): for a dropped connection. */
  reconnect(timeoutMs?: number): Promise<ControlClient>;
  /** Closes the connection and removes the forward. */
  close(): Promise<void>;
}

/** Forward + token + Hello on a device. */
export async function linkDevice(t: DeviceTransport, timeoutMs = 10_000): Promise<ServiceLink> {
  const token = await readDeviceToken(t);
  const fwd = await openForward(t);
  const where = { label: `profinferd on ${t.bridge} device ${t.serial}`, redeploy: redeployHint(t) };
  const endpoint = { host: '127.0.0.1', port: fwd.local };
  try {
    let client = await helloService(endpoint, token, where, timeoutMs);
    return {
      get client() {
        return client;
      },
      label: where.label,
      reconnect: async (ms = timeoutMs) => (client = await helloService(endpoint, token, where, ms)),
      close: async () => {
        client.close();
        await fwd.close();
      },
    };
  } catch (e) {
    await fwd.close();
    throw e;
  }
}

/** HOST:PORT, checked. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[\w.-]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new DeviceError(DeviceExit.noDevice, `--tcp wants HOST:PORT (e.g. 127.0.0.1:7420), not '${s}'`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** Hello straight to HOST:PORT (--tcp), with the token from a file. */
export async function linkTcp(hostPort: string, tokenFile: string | undefined, timeoutMs = 10_000): Promise<ServiceLink> {
  const { host, port } = parseHostPort(hostPort);
  if (!tokenFile) throw new DeviceError(DeviceExit.authRejected, `--tcp needs --token-file: copy ${DEVICE_TOKEN} from the device (it is the service's auth token)`);
  const raw = await readFile(tokenFile, 'utf8').catch((e: Error) => {
    throw new DeviceError(DeviceExit.authRejected, `cannot read --token-file ${tokenFile}: ${e.message}`);
  });
  const token = validToken(raw, tokenFile);
  const where = { label: `profinferd at ${host}:${port}`, redeploy: 'check that profinferd serve runs there and that the token file is its own' };
  const endpoint = { host, port };
  let client = await helloService(endpoint, token, where, timeoutMs);
  return {
    get client() {
      return client;
    },
    label: where.label,
    reconnect: async (ms = timeoutMs) => (client = await helloService(endpoint, token, where, ms)),
    close: async () => client.close(),
  };
}
