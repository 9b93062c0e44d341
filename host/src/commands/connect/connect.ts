// Sets up the link (port forward + Hello, or --tcp), starts or joins a
// session, streams its trace to the file with live QoS until it ends, then
// removes the forward and prints the summary.
import { closeSync, openSync } from 'node:fs';
import { ControlError } from '../../device/control_client.js';
import { TraceLevel, type v1 } from '../../proto.js';
import { chosenBridge } from '../../transport/bridge_args.js';
import { DeviceError, DeviceExit } from '../../transport/device_errors.js';
import { selectDevice, transportFor } from '../../transport/select_device.js';
import { linkDevice, linkTcp, type ServiceLink } from '../../transport/service_link.js';
import { loadSummary } from '../summary/summary.js';
import type { ConnectArgs, LevelName } from './command.js';
import { LiveStream } from './live_stream.js';
import { qosLine } from './qos_line.js';

/** Each command request to the service (Hello, start, status) gets this long. */
const REQUEST_TIMEOUT_MS = 4000;

const LEVEL: Record<LevelName, v1.TraceLevel> = {
  token: TraceLevel.TRACE_LEVEL_TOKEN,
  graph: TraceLevel.TRACE_LEVEL_GRAPH,
  node: TraceLevel.TRACE_LEVEL_NODE,
};

export function sessionConfig(a: ConnectArgs): v1.ISessionConfig | undefined {
  const c: v1.ISessionConfig = {};
  if (a.level) c.level = LEVEL[a.level];
  if (a.counters) c.counters = a.counters.split(',').map((s) => s.trim()).filter(Boolean);
  if (a.sched) c.sched = true;
  if (a.moe) c.moe = true;
  return Object.keys(c).length ? c : undefined;
}

async function openLink(a: ConnectArgs): Promise<ServiceLink> {
  if (a.tcp) return linkTcp(a.tcp, a.tokenFile, REQUEST_TIMEOUT_MS);
  const chosen = chosenBridge(a);
  if (!chosen) throw new DeviceError(DeviceExit.noDevice, 'pass --hdc, --adb or --tcp HOST:PORT');
  const dev = await selectDevice(chosen.bridge, chosen.serial);
  return linkDevice(transportFor(dev), REQUEST_TIMEOUT_MS);
}

/** Starts a session for --pid / --process, or finds the one to join. */
async function startOrJoin(link: ServiceLink, a: ConnectArgs): Promise<{ sessionId: string; traceId: string; started: boolean }> {
  const c = link.client;
  try {
    if (a.pid !== undefined || a.process !== undefined) {
      const target = a.pid !== undefined ? { pid: a.pid } : { processName: a.process as string };
      const s = await c.startSession(target, sessionConfig(a));
      return { ...s, started: true };
    }
    const running = (await c.status()).filter((s) => s.state !== 'stopped');
    const pick = a.session !== undefined ? running.find((s) => s.sessionId === a.session) : running.length === 1 ? running[0] : undefined;
    if (!pick) {
      const list = running.map((s) => `${s.sessionId} (${s.targetName || s.targetPids?.join(',') || '?'}, ${s.state})`).join(', ') || 'none';
      throw new DeviceError(
        DeviceExit.deviceCommandFailed,
        a.session !== undefined
          ? `no running session ${a.session} on ${link.label} (running: ${list})`
          : `pass --pid PID or --process NAME to start a session, or --session ID to join one (running: ${list})`,
      );
    }
    return { sessionId: pick.sessionId ?? '', traceId: pick.traceId ?? '', started: false };
  } catch (e) {
    if (e instanceof ControlError) throw new DeviceError(DeviceExit.deviceCommandFailed, `${link.label} refused the session: ${e.message}`, { cause: e });
    throw e;
  }
}

export async function connectCommand(a: ConnectArgs): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const log = (line: string): void => {
    process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`);
  };
  const link = await openLink(a);
  let fd: number | undefined;
  let live: LiveStream | undefined;
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1 && live) {
      log('stopping the session (Ctrl-C again aborts)');
      live.requestStop();
    } else {
      log('aborting');
      live?.abort();
      if (!live) void link.close().then(() => process.exit(DeviceExit.interrupted));
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const h = link.client.hello;
    const s = await startOrJoin(link, a);
    log(`${s.started ? 'started' : 'joined'} session ${s.sessionId} on ${link.label} (profinferd ${h.serverVersion ?? '?'}, ${h.arch ?? '?'}); trace ${s.traceId} -> ${a.output}`);
    fd = openSync(a.output, 'w');
    let lastLine = 0;
    live = new LiveStream({
      link,
      sessionId: s.sessionId,
      traceId: s.traceId,
      fd,
      output: a.output,
      retryForMs: a.retryFor * 1000,
      pollEveryMs: Math.max(100, a.qosEvery),
      log,
      onStatus: (st, bytes) => {
        const line = qosLine(st, bytes);
        if (tty) process.stderr.write(`\r\x1b[2K${line}`);
        else if (Date.now() - lastLine >= a.qosEvery) {
          lastLine = Date.now();
          process.stderr.write(`qos: ${line}\n`);
        }
      },
    });
    if (interrupts > 0) live.requestStop();
    const end = await live.run();
    closeSync(fd);
    fd = undefined;
    if (end === 'aborted') {
      log(`aborted: ${a.output} has the first ${live.offset} bytes (readable up to its last whole packet)`);
      return DeviceExit.interrupted;
    }
    log(`trace complete: ${a.output}, ${live.offset} bytes${live.reconnects ? `, ${live.reconnects} reconnect(s)` : ''}`);
    const { summary, warning } = await loadSummary(a.output);
    if (warning) log(`warning: ${warning}`);
    if (a.json) {
      process.stdout.write(
        JSON.stringify({
          trace: a.output,
          bytes: live.offset,
          session_id: s.sessionId,
          trace_id: s.traceId,
          reconnects: live.reconnects,
          stopped_by_client: live.stopRequested,
          summary,
        }) + '\n',
      );
    } else {
      const ms = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(2));
      process.stdout.write(
        `${a.output}: ${summary.tokens.length} llama_decode calls (${summary.decode_tokens} decoded), ` +
          `TTFT ${ms(summary.ttft_ms)} ms, TPOT ${ms(summary.tpot_ms)} ms, ${summary.graphs} graphs, ${summary.node_events} node events, lost ${summary.lost_events}\n` +
          `open it: profinfer-host open ${a.output}   (details: profinfer-host summary ${a.output}, analyze ${a.output})\n`,
      );
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (fd !== undefined) closeSync(fd);
    await link.close();
  }
}
