// The collector's C code under AddressSanitizer and UndefinedBehaviorSanitizer
// (build-asan/, scripts/setup/50_sanitizers.sh): every C unit test, and real
// sessions — a full MoE run with counters and expert routing, a session
// stopped by SIGINT mid-run, and the bad-input paths — with no sanitizer
// report and no leak.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SETUP_HINT, readTrace, requireRoot, waitUntil } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

const BUILD = join(REPO_ROOT, 'build-asan');
const PROFINFERD = join(BUILD, 'collector-c', 'profinferd');
const ENV = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=99',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:exitcode=98',
};
const REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

let dir: string;

beforeAll(() => {
  requireRoot();
  if (!existsSync(PROFINFERD)) throw new Error(`${PROFINFERD} is missing: ${SETUP_HINT}`);
  dir = mkdtempSync(join(tmpdir(), 'pi-asan-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function profinferd(args: readonly string[]): { code: number | null; stderr: string } {
  const r = spawnSync(PROFINFERD, args, { env: ENV, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr };
}

describe('C code under ASan and UBSan', () => {
  it('passes every C unit test', () => {
    const r = spawnSync('ctest', ['--test-dir', BUILD, '--output-on-failure', '-E', 'bench'], { env: ENV, encoding: 'utf8', timeout: 300_000 });
    expect(r.stdout, r.stdout.slice(-3000)).toMatch(/100% tests passed/);
    expect(r.stdout).not.toMatch(REPORT);
  });

  it('records a whole MoE run with counters and expert routing, cleanly', async () => {
    const out = join(dir, 'moe.pftrace');
    const r = profinferd([
      'record', '-o', out, '--counters', 'page-faults,task-clock,cycles', '--moe', '--',
      llamaBin('llama-simple'), '-m', ensureModel('moe', 'q8_0'), '-n', '6', 'Hello my name is',
    ]);
    expect(r.stderr).not.toMatch(REPORT);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const t = await readTrace(out);
    expect(t.error).toBeUndefined();
    expect(t.tokens.length).toBe(6);
    expect(t.packets.some((p) => p.expertRouting)).toBe(true);
  });

  it('stops on SIGINT mid-run with a whole trace and no leak', async () => {
    const out = join(dir, 'sigint.pftrace');
    // SIGINT to profinferd only: it stops recording and lets the target finish.
    const child = spawn(PROFINFERD, ['record', '-o', out, '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '400', 'Hello'], {
      env: ENV,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await waitUntil(async () => existsSync(out) && (await readTrace(out)).tokens.length > 3, 'a few tokens recorded', 60_000, 100);
    child.kill('SIGINT');
    const code = await exited;
    expect(stderr).not.toMatch(REPORT);
    expect(code, stderr.slice(-3000)).toBe(0);
    const t = await readTrace(out);
    expect(t.error).toBeUndefined();
    expect(t.sessionEnd?.reason).toBe('interrupted');
    expect(t.tokens.length).toBeLessThan(400);
  });

  it('refuses bad input without a sanitizer report', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"level": "node", "counters": ["cylces"]');
    for (const args of [
      ['record', '-o', join(dir, 'x.pftrace'), '--pid', String(2 ** 22 + 4321)],
      ['record', '-o', join(dir, 'y.pftrace'), '--', '/bin/true'],
      ['record', '-o', join(dir, 'z.pftrace'), '--config', bad, '--', '/bin/true'],
      ['record', '-o', join(dir, 'w.pftrace'), '--counters', 'cycles,nonsense', '--', '/bin/true'],
      ['probes', '/etc/hostname'],
    ]) {
      const r = profinferd(args);
      expect(r.stderr, args.join(' ')).not.toMatch(REPORT);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).not.toBe(0);
      expect(r.code).toBeLessThan(90); // not a sanitizer's exit code
      expect(r.stderr).toMatch(/error/i);
    }
  });
});
