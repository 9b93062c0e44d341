import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveTrace, uiUrl, urlSafeName, type TraceServer } from './serve.js';

const bytes = new Uint8Array([0x0a, 0x02, 0x50, 0x01, 0xff]);
let served: TraceServer | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

/** GET without URL normalisation (fetch would resolve "..") */
function rawGet(port: number, path: string): Promise<number> {
  return new Promise((ok, fail) => {
    request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    })
      .on('error', fail)
      .end();
  });
}

describe('serveTrace', () => {
  it('serves the trace once on loopback with the headers ui.perfetto.dev needs', async () => {
    served = await serveTrace({ bytes, name: 'run.perfetto-trace', port: 0, allowOrigin: 'https://ui.perfetto.dev' });
    expect(served.traceUrl).toBe(`http://127.0.0.1:${served.port}/run.perfetto-trace`);
    let fetched = false;
    void served.fetched.then(() => (fetched = true));

    const miss = await fetch(`http://127.0.0.1:${served.port}/status`);
    expect(miss.status).toBe(404);
    expect(miss.headers.get('access-control-allow-origin')).toBe('https://ui.perfetto.dev');
    await new Promise((r) => setTimeout(r, 20));
    expect(fetched).toBe(false);

    const res = await fetch(served.traceUrl, { headers: { Origin: 'https://ui.perfetto.dev' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://ui.perfetto.dev');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    await served.fetched;

    expect((await fetch(served.traceUrl, { method: 'POST' })).status).toBe(404);
  });

  it('serves a static UI from a directory, and nothing outside it', async () => {
    const ui = mkdtempSync(join(tmpdir(), 'pi-ui-'));
    mkdirSync(join(ui, 'v1'));
    writeFileSync(join(ui, 'index.html'), '<html>perfetto</html>');
    writeFileSync(join(ui, 'v1', 'engine.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d]));
    served = await serveTrace({ bytes, name: 't.perfetto-trace', port: 0, allowOrigin: 'http://127.0.0.1', uiDir: ui });
    const base = `http://127.0.0.1:${served.port}`;
    const index = await fetch(`${base}/`);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toBe('<html>perfetto</html>');
    expect((await fetch(`${base}/v1/engine.wasm`)).headers.get('content-type')).toBe('application/wasm');
    expect((await fetch(`${base}/nope.js`)).status).toBe(404);
    expect(await rawGet(served.port, '/../../../etc/passwd')).toBe(403);
    expect(await rawGet(served.port, '/%2e%2e/%2e%2e/etc/passwd')).toBe(403);
    expect((await fetch(`${base}/t.perfetto-trace`)).status).toBe(200);
    expect(uiUrl(base, served.traceUrl)).toBe(`${base}/#!/?url=${base}/t.perfetto-trace&referrer=profinfer`);
  });

  it('says which port is taken', async () => {
    served = await serveTrace({ bytes, name: 'a', port: 0, allowOrigin: 'x' });
    await expect(serveTrace({ bytes, name: 'b', port: served.port, allowOrigin: 'x' })).rejects.toThrow(
      new RegExp(`failed to listen on 127.0.0.1:${served.port}: port ${served.port} is in use`),
    );
  });

  it('makes file names URL-safe', () => {
    expect(urlSafeName('my run (2).perfetto-trace')).toBe('my_run__2_.perfetto-trace');
    expect(urlSafeName('../x')).toBe('_x');
  });

  it('refuses a name that is not URL-safe', async () => {
    await expect(serveTrace({ bytes, name: 'a/b', port: 0, allowOrigin: 'x' })).rejects.toThrow(/URL-safe/);
  });
});
