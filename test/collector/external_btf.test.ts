// --btf FILE: kernels without their own BTF (no /sys/kernel/btf/vmlinux) can
// still run the scheduler programs, whose CO-RE relocations then come from a
// BTF file the user points to. This kernel has BTF, so the test hands its BTF
// in as an external file and forces the raw-tracepoint programs (tp_btf needs
// the kernel's own): the relocations must come from that file and the
// switches must be recorded. A missing file is a one-line error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrace, requireProfinferd, requireRoot, runProfinferd } from '../support/collector.js';
import { llamaBin } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

let dir: string;
beforeAll(() => {
  requireRoot();
  requireProfinferd();
  dir = mkdtempSync(join(tmpdir(), 'pi-btf-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('profinferd record --sched --btf FILE', () => {
  it('loads the scheduler programs with an external BTF and records the threads', async () => {
    const out = join(dir, 'btf.pftrace');
    const r = await runProfinferd(
      ['record', '-o', out, '--level', 'graph', '--sched', '--btf', '/sys/kernel/btf/vmlinux', '-v', '--', llamaBin('llama-simple'), '-m', ensureModel('tiny', 'q8_0'), '-n', '4', 'Hi'],
      { env: { ...process.env, PROFINFER_SCHED_RAW_TP: '1' } },
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const t = await readTrace(out);
    expect(t.session?.config?.sched).toBe(true);
    const switches = t.packets.filter((p) => p.schedSwitch).reduce((n, p) => n + (p.schedSwitch?.prevTid?.length ?? 0), 0);
    expect(switches).toBeGreaterThan(0);
  });

  it('says which file it cannot read, before starting the command', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'x.pftrace'), '--sched', '--btf', '/nonexistent/vmlinux.btf', '--', '/bin/echo', 'ran']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot read the BTF file \/nonexistent\/vmlinux\.btf \(--btf\): No such file or directory$/m);
    expect(r.stdout).not.toContain('ran');
  });
});
