// The loopback server `open` uses, after Perfetto's tools/open_trace_in_ui:
// 127.0.0.1 only, the trace at /<name> with `Access-Control-Allow-Origin`
// set to the UI's origin and `Cache-Control: no-cache`, every other path a
// 404, and done after the trace has been fetched once. With a UI directory it
// also serves that static UI build (same origin, no CORS needed) and keeps
// running until stopped, since the UI keeps loading its own files.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

export const LOOPBACK = '127.0.0.1';

/** The server could not start or serve. */
export class ServeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

export interface ServeOptions {
  /** The trace bytes to serve. */
  readonly bytes: Uint8Array;
  /** File name in the URL: [A-Za-z0-9._-] only. */
  readonly name: string;
  /** 0: any free port (tests). */
  readonly port: number;
  /** The UI origin allowed by CORS, e.g. "https://ui.perfetto.dev". */
  readonly allowOrigin: string;
  /** Serve a static UI from here as well. */
  readonly uiDir?: string;
}

export interface TraceServer {
  readonly server: Server;
  readonly port: number;
  /** The trace's own URL. */
  readonly traceUrl: string;
  /** Resolves when the trace has been sent once. */
  readonly fetched: Promise<void>;
  close(): Promise<void>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** A name safe in a URL path and a file name. */
export function urlSafeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return safe || 'trace.perfetto-trace';
}

export async function serveTrace(o: ServeOptions): Promise<TraceServer> {
  if (!/^[A-Za-z0-9._-]+$/.test(o.name)) throw new ServeError(`not a URL-safe trace name: ${o.name}`);
  const uiRoot = o.uiDir === undefined ? undefined : resolve(o.uiDir);
  let markFetched: () => void = () => {};
  const fetched = new Promise<void>((r) => (markFetched = r));

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Access-Control-Allow-Origin', o.allowOrigin);
    res.setHeader('Cache-Control', 'no-cache');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(404).end();
      return;
    }
    if (path === `/${o.name}`) {
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(o.bytes.length),
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      res.end(o.bytes, () => markFetched());
      return;
    }
    if (uiRoot !== undefined) {
      void serveStatic(uiRoot, path, req, res);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('File not found\n');
  };

  const server = createServer(handler);
  await new Promise<void>((ok, fail) => {
    server.once('error', (cause: NodeJS.ErrnoException) => {
      const why = cause.code === 'EADDRINUSE' ? `port ${o.port} is in use (a trace_processor --httpd or another open?)` : cause.message;
      fail(new ServeError(`failed to listen on ${LOOPBACK}:${o.port}: ${why}`, { cause }));
    });
    server.listen(o.port, LOOPBACK, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    traceUrl: `http://${LOOPBACK}:${port}/${o.name}`,
    fetched,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

async function serveStatic(root: string, urlPath: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (rel.endsWith('/')) rel += 'index.html';
  const file = normalize(join(root, rel));
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  const s = await stat(file).catch(() => undefined);
  if (s === undefined || !s.isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('File not found\n');
    return;
  }
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(s.size),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}

/** The Perfetto UI URL that loads a trace URL. */
export function uiUrl(uiOrigin: string, traceUrl: string): string {
  return `${uiOrigin}/#!/?url=${traceUrl}&referrer=profinfer`;
}
