// Converts a trace to Perfetto in memory and serves it (serve.ts) to the
// Perfetto UI: ui.perfetto.dev by default, or a static UI build (--ui).
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import { concat } from '../../export/perfetto.js';
import { convert, tracePackets } from '../export/export.js';
import type { OpenArgs } from './command.js';
import { LOOPBACK, serveTrace, uiUrl, urlSafeName, ServeError } from './serve.js';

/** Starts the desktop's browser on a URL; false when there is none to start. */
async function startBrowser(url: string): Promise<boolean> {
  // A Linux shell without a display (ssh, container) has no browser to start.
  if (process.platform === 'linux' && !process.env['DISPLAY'] && !process.env['WAYLAND_DISPLAY']) return false;
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  return new Promise((ok) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.once('error', () => ok(false));
    child.once('spawn', () => {
      child.unref();
      ok(true);
    });
  });
}

export async function openCommand(args: OpenArgs): Promise<number> {
  await access(args.trace).catch((cause: unknown) => {
    throw new ServeError(`cannot read ${args.trace}: ${(cause as Error).message}`, { cause });
  });
  let warning: string | undefined;
  const chunks: Uint8Array[] = [];
  const packets = tracePackets(args.trace, (err) => (warning = `${err.message}; opening the packets before it`));
  for await (const c of convert(packets, 'perfetto', () => {}, { flowsForSeq: args.flows })) chunks.push(c as Uint8Array);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  const bytes = concat(chunks);
  const name = urlSafeName(basename(args.trace).replace(/\.pftrace$/, '') + '.perfetto-trace');
  const origin = args.ui === undefined ? args.origin.replace(/\/+$/, '') : `http://${LOOPBACK}:${args.port}`;
  const served = await serveTrace({ bytes, name, port: args.port, allowOrigin: origin, uiDir: args.ui });
  const url = uiUrl(args.ui === undefined ? origin : `http://${LOOPBACK}:${served.port}`, served.traceUrl);
  if (args['print-url'] || !(await startBrowser(url))) {
    process.stdout.write(`Open this URL in a browser on this machine:\n${url}\n`);
  } else {
    process.stderr.write(`Opened ${url}\n`);
  }
  if (args.ui !== undefined) {
    process.stderr.write(`Serving the UI from ${args.ui} on ${LOOPBACK}:${served.port}; press Ctrl-C to stop.\n`);
    await new Promise<void>((ok) => process.once('SIGINT', ok));
  } else {
    process.stderr.write(`Waiting for the UI to fetch the trace (${(bytes.length / 1e6).toFixed(2)} MB); Ctrl-C to stop.\n`);
    await Promise.race([served.fetched, new Promise<void>((ok) => process.once('SIGINT', ok))]);
  }
  await served.close();
  return 0;
}
