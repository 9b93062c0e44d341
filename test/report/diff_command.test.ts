// `profinfer-host diff A B` on two recorded traces (the same tiny model in
// Q8_0 and F16): its headline numbers are each trace's own summary, and the
// per-token op times are analyze's decode-phase op times over decode tokens.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/collector.js';

const A = join(REPO_ROOT, 'test/analysis/fixtures/tiny-q8_0.pftrace');
const B = join(REPO_ROOT, 'test/analysis/fixtures/tiny-f16.pftrace');
const dir = mkdtempSync(join(tmpdir(), 'pi-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: readonly string[]): string =>
  execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'host/src/cli.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

interface DiffJson {
  headlines: { name: string; a: number | null; b: number | null; change: number | null }[];
  changes: { key: string; a_ms_per_token: number; b_ms_per_token: number; delta_ms: number }[];
  a_decode_tokens: number;
}

describe('diff of two real traces', () => {
  const html = join(dir, 'diff.html');
  const d = JSON.parse(cli(['diff', A, B, '--json', '--html', html])) as DiffJson;

  it('takes the headline numbers from each trace', () => {
    for (const [side, path] of [['a', A], ['b', B]] as const) {
      const s = JSON.parse(cli(['summary', path, '--json'])) as { tokens_per_s: number; ttft_ms: number; tpot_ms: number };
      expect(d.headlines.find((h) => h.name === 'tokens/s')?.[side]).toBeCloseTo(s.tokens_per_s, 6);
      expect(d.headlines.find((h) => h.name === 'TTFT ms')?.[side]).toBeCloseTo(s.ttft_ms, 6);
      expect(d.headlines.find((h) => h.name === 'TPOT ms')?.[side]).toBeCloseTo(s.tpot_ms, 6);
    }
  });

  it('ranks op, layer and block changes by time per token, largest first', () => {
    const deltas = d.changes.map((c) => Math.abs(c.delta_ms));
    expect(deltas).toEqual([...deltas].sort((x, y) => y - x));
    const mm = d.changes.find((c) => c.key === 'op MUL_MAT');
    expect(mm?.a_ms_per_token).toBeGreaterThan(0);
    expect(d.a_decode_tokens).toBeGreaterThan(0);
    expect(d.changes.some((c) => c.key.startsWith('layer '))).toBe(true);
    expect(d.changes.some((c) => c.key.startsWith('block '))).toBe(true);
  });

  it('writes the side-by-side page, self-contained', () => {
    const page = readFileSync(html, 'utf8');
    expect(page).toContain(`content="default-src 'none'`);
    expect(page).toContain('data-headline="tokens/s"');
    expect(page).toContain('op MUL_MAT');
  });

  it('fails with one line for a file that is not a trace', () => {
    expect(() => execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'host/src/cli.ts'), 'diff', A, '/etc/hostname'], { cwd: REPO_ROOT, stdio: 'pipe' })).toThrow(/error: .*\/etc\/hostname/);
  });
});
