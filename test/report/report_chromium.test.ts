// `profinfer-host report`, opened by headless Chromium: the page renders every
// view, shows the summary's numbers, and makes no network request — checked
// with a proxy that records every connection Chromium makes (and a control
// page with a remote image, which the proxy must see, so the check can fail).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, requireTool, run } from '../support/collector.js';

const FIXTURE = join(REPO_ROOT, 'test/analysis/fixtures/moe-q8_0.pftrace');
const CLI = join(REPO_ROOT, 'host/src/cli.ts');

let dir: string;
let chromium: string;
let proxy: Server;
let proxyPort: number;
const proxied: string[] = [];

beforeAll(async () => {
  chromium = requireTool('chromium');
  dir = mkdtempSync(join(tmpdir(), 'pi-report-'));
  // Every request Chromium sends anywhere goes here; nothing is answered.
  proxy = createServer((sock) => {
    sock.once('data', (d) => proxied.push(d.toString('latin1').split('\r\n')[0] ?? ''));
    sock.on('error', () => {});
    setTimeout(() => sock.destroy(), 100);
  });
  await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
  proxyPort = (proxy.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((ok) => proxy?.close(ok));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cli(args: readonly string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
}

/** Chromium's own background traffic (clock, updates, accounts) is not the page's. */
const CHROMIUM_SERVICES = /^(?:GET|POST|CONNECT) (?:https?:\/\/)?[\w.-]*\b(?:google\.com|googleapis\.com|gvt1\.com|gstatic\.com)[:/]/;

function pageRequests(): string[] {
  return proxied.filter((l) => !CHROMIUM_SERVICES.test(l));
}

async function dumpDom(file: string): Promise<string> {
  const profile = mkdtempSync(join(dir, 'profile-'));
  const r = await run(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, `--proxy-server=http://127.0.0.1:${proxyPort}`,
    '--proxy-bypass-list=<-loopback>', '--virtual-time-budget=5000', '--dump-dom', `file://${file}`,
  ], { timeoutMs: 60_000 });
  expect(r.stdout, r.stderr.slice(-2000)).toContain('</html>');
  return r.stdout;
}

describe('report, opened by headless Chromium', () => {
  let facts: Record<string, string | number>;
  let html: string;
  let dom: string;
  const out = () => join(dir, 'moe.html');

  beforeAll(async () => {
    facts = JSON.parse(cli(['report', FIXTURE, '-o', out(), '--peaks', '100,20', '--json'])) as Record<string, string | number>;
    html = readFileSync(out(), 'utf8');
    dom = await dumpDom(out());
  });

  it('shows the numbers the summary prints', () => {
    const summary = JSON.parse(cli(['summary', FIXTURE, '--json'])) as { tokens_per_s: number; ttft_ms: number; tpot_ms: number; node_events: number; lost_events: number };
    expect(facts.tokensPerS).toBe(summary.tokens_per_s.toFixed(1));
    expect(facts.ttftMs).toBe(summary.ttft_ms.toFixed(2));
    expect(facts.tpotMs).toBe(summary.tpot_ms.toFixed(2));
    expect(facts.nodeEvents).toBe(String(summary.node_events));
    expect(facts.lost).toBe(String(summary.lost_events));
    for (const [k, v] of [['tokens/s', facts.tokensPerS], ['TTFT ms', facts.ttftMs], ['TPOT ms', facts.tpotMs], ['node events', facts.nodeEvents], ['lost', facts.lost]] as const)
      expect(dom).toMatch(new RegExp(`data-fact="${k.replace('/', '\\/')}"><div class="v">${String(v)}</div>`));
  });

  it('renders every view as SVG: ops, layers, tokens, threads, roofline, DAG', () => {
    for (const id of ['ops', 'layers', 'tokens', 'threads', 'roofline', 'dag']) expect(dom).toMatch(new RegExp(`<section id="${id}">.*?<svg`, 's'));
    // The op chart ranks what analyze ranks first.
    const analyze = JSON.parse(cli(['analyze', FIXTURE, '--json', '--peaks', '100,20'])) as { stats: { ops: Record<string, { wall_ns: number }> } };
    const topOp = Object.entries(analyze.stats.ops).sort((a, b) => b[1].wall_ns - a[1].wall_ns)[0]?.[0] as string;
    expect(/<section id="ops">.*?class="label" text-anchor="end">([^<]+)</s.exec(dom)?.[1]).toBe(topOp);
  });

  it('makes no network request and allows none', () => {
    expect(pageRequests(), proxied.join('\n')).toEqual([]);
    expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src 'none'`);
    expect(html.match(/https?:\/\/[^"\s<]+/g)?.filter((u) => u !== 'http://www.w3.org/2000/svg') ?? []).toEqual([]);
  });

  it('(control) the proxy does see a page that loads a remote image', async () => {
    const page = join(dir, 'control.html');
    writeFileSync(page, '<!doctype html><html><body><img src="http://profinfer-report-test.invalid/x.png"></body></html>');
    proxied.length = 0;
    await dumpDom(page);
    expect(pageRequests().some((l) => l.includes('profinfer-report-test.invalid'))).toBe(true);
  });
});
