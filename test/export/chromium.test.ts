// A real browser fetches what `profinfer-host open` serves: headless Chromium
// loads a stand-in for the Perfetto UI (a page that fetches the `url=` of its
// hash, as the UI does, and prints what it got), so the CORS headers are
// judged by Chromium itself, not by a test's reading of them:
// - cross-origin, as from ui.perfetto.dev: the page's origin is passed as
//   --origin, and the fetch succeeds; from any other origin it is refused;
// - same-origin, with --ui DIR (the air-gapped setup).
// No network and no root needed: the trace is built here.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Trace } from '../../host/src/proto.js';
import { REPO_ROOT, requireTool, run } from '../support/collector.js';

const PAGE = `<!doctype html><html><body><pre id="out">loading</pre><script>
const m = /[?&]url=([^&]+)/.exec(location.hash);
fetch(decodeURIComponent(m[1])).then(async (r) => {
  const b = new Uint8Array(await r.arrayBuffer());
  document.getElementById('out').textContent = 'fetched ' + r.status + ' ' + b.byteLength + ' bytes';
}).catch((e) => { document.getElementById('out').textContent = 'failed ' + e.name; });
</script></body></html>`;

let dir: string;
let chromium: string;
let tracePath: string;
let page: Server;
let pageOrigin: string;

beforeAll(async () => {
  chromium = requireTool('chromium');
  dir = mkdtempSync(join(tmpdir(), 'pi-open-chromium-'));
  tracePath = join(dir, 'run.pftrace');
  writeFileSync(
    tracePath,
    Trace.encode({
      packet: [
        { process: { pid: 10, exe: '/bin/llama-simple' } },
        { graph: { pid: 10, tid: 10, graphId: 1, startNs: 1100, durationNs: 800 } },
        { token: { pid: 10, tid: 10, startNs: 1000, durationNs: 1000, nTokens: 1, seq: 1 } },
      ],
    }).finish(),
  );
  writeFileSync(join(dir, 'index.html'), PAGE);
  page = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE));
  await new Promise<void>((ok) => page.listen(0, 'localhost', ok));
  pageOrigin = `http://localhost:${(page.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => page?.close(ok));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts `open` and waits for the URL it prints. */
async function startOpen(args: readonly string[]): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'host/src/cli.ts'), 'open', tracePath, '--print-url', '--port', '0', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  let url: RegExpExecArray | null = null;
  while ((url = /^(http\S+#!\/\?url=\S+)$/m.exec(out)) === null) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`open printed no URL:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: url[1] as string, exited };
}

/** What the page printed after Chromium loaded it (and its fetch settled). */
async function loadInChromium(url: string): Promise<string> {
  const profile = mkdtempSync(join(dir, 'profile-'));
  const r = await run(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, '--virtual-time-budget=10000', '--dump-dom', url,
  ], { timeoutMs: 60_000 });
  return /<pre id="out">([^<]*)</.exec(r.stdout)?.[1] ?? `no page output (exit ${r.code}):\n${r.stderr.slice(-2000)}`;
}

describe('open, loaded by headless Chromium', () => {
  it('serves the trace cross-origin to the UI origin it was given, then exits', async () => {
    const o = await startOpen(['--origin', pageOrigin]);
    try {
      // The URL opens the UI at pageOrigin; the trace lives on 127.0.0.1 (another origin).
      expect(o.url).toMatch(new RegExp(`^${pageOrigin}/#!/\\?url=http://127\\.0\\.0\\.1:\\d+/run\\.perfetto-trace&`));
      expect(await loadInChromium(o.url)).toMatch(/^fetched 200 \d+ bytes$/);
      expect(await o.exited).toBe(0);
    } finally {
      o.child.kill('SIGKILL');
    }
  });

  it('is refused by Chromium for a page of another origin', async () => {
    const o = await startOpen(['--origin', 'https://ui.perfetto.dev']);
    try {
      const traceUrl = /url=([^&]+)/.exec(o.url)?.[1] ?? '';
      expect(await loadInChromium(`${pageOrigin}/#!/?url=${traceUrl}`)).toBe('failed TypeError');
    } finally {
      o.child.kill('SIGKILL');
    }
  });

  it('serves a static UI and the trace on one loopback origin with --ui', async () => {
    const o = await startOpen(['--ui', dir]);
    try {
      expect(o.url).toMatch(/^http:\/\/127\.0\.0\.1:(\d+)\/#!\/\?url=http:\/\/127\.0\.0\.1:\1\/run\.perfetto-trace&/);
      expect(await loadInChromium(o.url)).toMatch(/^fetched 200 \d+ bytes$/);
    } finally {
      o.child.kill('SIGINT');
      expect(await o.exited).toBe(0);
    }
  });
});
