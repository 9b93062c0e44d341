// The collector's three targets (issue 10): Linux x86-64 (glibc), Linux aarch64
// (glibc) and aarch64 musl (the build that stands in for OpenHarmony's), each one
// static executable. The aarch64 ones run here under qemu-aarch64-static: their
// --version and --check, and their unit tests (the wire encoding against the
// goldens, the token probe's calling-convention decoding on a real aarch64 call).
// Built by scripts/setup/30_collector.sh and 40_cross.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, SETUP_HINT, requireTool } from '../support/collector.js';

interface Target {
  readonly name: string;
  readonly buildDir: string;
  readonly triple: string;
  readonly fileArch: RegExp;
  readonly emulator?: string;
}

const TARGETS: readonly Target[] = [
  { name: 'x86_64 glibc', buildDir: 'build', triple: 'x86_64-linux-gnu-static', fileArch: /x86-64/ },
  { name: 'aarch64 glibc', buildDir: 'build-aarch64', triple: 'aarch64-linux-gnu-static', fileArch: /ARM aarch64/, emulator: 'qemu-aarch64-static' },
  { name: 'aarch64 musl', buildDir: 'build-musl', triple: 'aarch64-linux-musl-static', fileArch: /ARM aarch64/, emulator: 'qemu-aarch64-static' },
];

interface CheckFeature {
  name: string;
  ok: boolean;
  essential: boolean;
  detail: string;
  lost_without: string;
}

interface CheckReport {
  build_target: string;
  arch: string;
  usable: boolean;
  features: CheckFeature[];
}

function binary(t: Target): string {
  const bin = join(REPO_ROOT, t.buildDir, 'collector-c', 'profinferd');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: ${SETUP_HINT}`);
  return bin;
}

/** Runs a target's program, under its emulator where it has one. */
function runOn(t: Target, bin: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = t.emulator ? [requireTool(t.emulator), [bin, ...args]] : [bin, [...args]];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function feature(report: CheckReport, name: string): CheckFeature {
  const f = report.features.find((x) => x.name === name);
  if (!f) throw new Error(`--check has no feature ${name}: ${JSON.stringify(report.features.map((x) => x.name))}`);
  return f;
}

describe.each(TARGETS)('profinferd for $name', (t) => {
  it('is one statically linked executable for its architecture', () => {
    const out = execFileSync(requireTool('file'), ['-b', binary(t)], { encoding: 'utf8' });
    expect(out).toMatch(t.fileArch);
    expect(out).toMatch(/statically linked/);
  });

  it('names its build target and libbpf in --version', () => {
    const r = runOn(t, binary(t), ['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^profinferd \\d+\\.\\d+\\.\\d+ \\(${t.triple}, libbpf v1\\.\\d+, protocol 1\\)`));
  });

  it('passes its unit tests on its architecture (wire goldens, llama_decode argument decoding)', () => {
    const r = spawnSync('ctest', ['--test-dir', join(REPO_ROOT, t.buildDir), '-R', '^(golden|encode|llama_abi)$', '--output-on-failure'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stdout).toMatch(/100% tests passed, 0 tests failed out of 3/);
    if (t.emulator) expect(readFileSync(join(REPO_ROOT, t.buildDir, 'Testing', 'Temporary', 'LastTest.log'), 'utf8')).toContain('aarch64: llama_decode batch decoding ok');
  });

  it('reports what the kernel supports with --check --json', () => {
    const r = runOn(t, binary(t), ['--check', '--json']);
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.build_target).toBe(t.triple);
    expect(report.features.length).toBeGreaterThanOrEqual(10);
    for (const f of report.features) expect(f.lost_without.length, f.name).toBeGreaterThan(0);
    // What the kernel really has, read independently of the collector.
    expect(feature(report, 'btf').ok).toBe(existsSync('/sys/kernel/btf/vmlinux'));
    expect(feature(report, 'tracefs').ok).toBe(/ (tracefs|debugfs) /.test(readFileSync('/proc/mounts', 'utf8')));
    if (t.emulator) {
      // qemu-user does not emulate bpf(2): the report must say so, not guess.
      expect(report.arch).toBe('aarch64');
      expect(feature(report, 'bpf').ok).toBe(false);
      expect(feature(report, 'bpf').detail).toMatch(/qemu-user|not implemented/i);
      expect(feature(report, 'uprobe_multi').ok).toBe(false);
      expect(feature(report, 'uprobe_multi').detail).toMatch(/not checked/);
      expect(report.usable).toBe(false);
      expect(r.status).toBe(1);
    } else {
      expect(report.arch).toBe('x86_64');
      expect(feature(report, 'bpf').ok).toBe(true);
      expect(feature(report, 'ringbuf').ok).toBe(true);
      expect(report.usable).toBe(true);
      expect(r.status).toBe(0);
    }
  });
});

describe('--check on this machine', () => {
  it('agrees with the kernel about uprobe_multi and the PMU', () => {
    const r = runOn(TARGETS[0], binary(TARGETS[0]), ['--check', '--json']);
    const report = JSON.parse(r.stdout) as CheckReport;
    const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number);
    expect(feature(report, 'uprobe_multi').ok).toBe(major > 6 || (major === 6 && minor >= 6));
    // A hardware PMU shows up as the "cpu" (x86) or an armv8 event source.
    const pmu = existsSync('/sys/bus/event_source/devices/cpu') || existsSync('/sys/bus/event_source/devices/armv8_pmuv3');
    expect(feature(report, 'counter:cycles').ok).toBe(pmu);
    expect(feature(report, 'counter:page-faults').ok).toBe(true);
    const text = runOn(TARGETS[0], binary(TARGETS[0]), ['--check']);
    expect(text.stdout).toMatch(/^ {2}ok {3}uprobes +\/sys\/bus\/event_source\/devices\/uprobe\/type present$/m);
    if (!pmu) expect(text.stdout).toMatch(/^ {2}no {3}counter:cycles .*no hardware PMU/m);
  });
});
