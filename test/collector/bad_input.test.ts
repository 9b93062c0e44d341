// profinferd refuses what it cannot record with ONE `error:` line on stderr
// that says what to do about it, and a non-zero exit code; and it finds the
// symbols of a stripped binary through .gnu_debuglink.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Proc, type ProcResult, collectorLines, expectedNodeProbes, readTrace, requireProfinferd, requireRoot, requireTool, run, runProfinferd,
} from '../support/collector.js';
import { llamaBin, parseLlamaPerf } from '../support/llama_cpp.js';
import { ensureModel } from '../support/models.js';

let dir: string;
let model: string;

beforeAll(() => {
  requireRoot();
  requireProfinferd();
  model = ensureModel('tiny', 'q8_0');
  dir = mkdtempSync(join(tmpdir(), 'pi-collector-bad-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A PID no process has: above every PID in use, below pid_max. */
function unusedPid(): number {
  const used = new Set(readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number));
  let pid = 4_000_000;
  while (used.has(pid)) pid--;
  return pid;
}

/** Exactly one error line, matching `hint`; non-zero exit; `alone`: nothing else on stderr. */
function expectOneError(r: ProcResult, hint: RegExp, alone: boolean): void {
  expect(r.code, r.stderr.slice(-2000)).not.toBe(0);
  expect(r.code).not.toBeNull(); // exited, not killed
  const errors = r.stderr.split('\n').filter((l) => /^error:/.test(l));
  expect(errors, r.stderr.slice(-2000)).toHaveLength(1);
  expect(errors[0]).toMatch(hint);
  if (alone) expect(r.stderr).toBe(`${errors[0]}\n`);
  else expect(collectorLines(r.stderr).pop()).toBe(errors[0]); // the error is the last thing profinferd says
}

describe('profinferd record refuses bad input with one error line and a hint', () => {
  it('a PID that does not exist', async () => {
    const pid = unusedPid();
    const r = await runProfinferd(['record', '-o', join(dir, 'nopid.pftrace'), '--pid', String(pid)]);
    expectOneError(r, new RegExp(`no process with PID ${pid}.*check the PID`), true);
    expect(existsSync(join(dir, 'nopid.pftrace'))).toBe(false);
  });

  it('a PID of a process without llama.cpp', async () => {
    const sleeper = new Proc('/bin/sleep', ['30'], { timeoutMs: 30_000 });
    try {
      const r = await runProfinferd(['record', '-o', join(dir, 'sleep.pftrace'), '--pid', String(sleeper.pid)]);
      expectOneError(r, /no llama\.cpp \/ GGML code mapped.*pass the PID of the process that runs inference/, false);
    } finally {
      sleeper.child.kill('SIGKILL');
      await sleeper.done;
    }
  });

  it('-- /bin/true: no llama.cpp in the program', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'true.pftrace'), '--', '/bin/true']);
    expectOneError(r, /no llama\.cpp \/ GGML code was found in \/bin\/true.*is it a llama\.cpp program\?/, false);
  });

  it('a stripped llama-simple: no symbols, so no llama.cpp found', async () => {
    const bin = llamaBin('llama-simple.stripped');
    const r = await runProfinferd(['record', '-o', join(dir, 'stripped.pftrace'), '--', bin, '-m', model, '-n', '2', 'Hello']);
    expectOneError(r, new RegExp(`no llama\\.cpp / GGML code was found in ${bin.replace(/[.]/g, '\\.')}`), false);
    expect(parseLlamaPerf(r.stderr), 'the target itself still runs to completion').toBeDefined();
  });

  it('a stripped llama-simple with .gnu_debuglink records fine (symbols from llama-simple.debug)', async () => {
    const bin = llamaBin('llama-simple.debuglink');
    llamaBin('llama-simple.debug');
    const out = join(dir, 'debuglink.pftrace');
    const r = await runProfinferd(['record', '-o', out, '--', bin, '-m', model, '-n', '4', 'Hello']);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).not.toMatch(/^error:/m);
    const perf = parseLlamaPerf(r.stderr);
    const t = await readTrace(out);
    expect(t.error).toBeUndefined();
    expect(t.modules.map((m) => m.path)).toContain(bin);
    const probes = new Set(t.modules.flatMap((m) => (m.probes ?? []).map((p) => p.name)));
    for (const p of ['token_enter', 'graph_enter', ...expectedNodeProbes().map((n) => n.name)]) expect(probes).toContain(p);
    expect(t.tokens.length).toBe(1 + (perf?.evalRuns ?? NaN));
    expect(t.tokens[0]?.nTokens).toBe(perf?.promptTokens);
    expect(t.summary.node_events).toBeGreaterThan(0);
  });

  it('no permission: an unprivileged user cannot load BPF', async () => {
    const setpriv = requireTool('setpriv');
    const out = join(dir, 'unpriv', 'x.pftrace');
    mkdirSync(join(dir, 'unpriv'));
    chmodSync(join(dir, 'unpriv'), 0o777);
    chmodSync(dir, 0o755);
    const r = await run(setpriv, [
      '--reuid=65534', '--regid=65534', '--clear-groups', requireProfinferd(), 'record', '-o', out, '--', '/bin/true',
    ]);
    expectOneError(r, /needs root to load BPF programs.*sudo/, true);
    expect(existsSync(out), 'refused before creating the trace').toBe(false);
  });

  it('a missing -o', async () => {
    const r = await runProfinferd(['record', '--', '/bin/true']);
    expectOneError(r, /pass -o TRACE/, true);
  });

  it('an unknown --level', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'level.pftrace'), '--level', 'op', '--', '/bin/true']);
    expectOneError(r, /--level must be token, graph or node, not 'op'/, true);
  });

  it('an unknown --layout profile', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'layout.pftrace'), '--layout', 'ggml-1999', '--', '/bin/true']);
    expectOneError(r, /unknown layout profile 'ggml-1999'.*--list-layouts/, true);
  });

  it('a command that does not exist', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'nocmd.pftrace'), '--', join(dir, 'no-such-program')]);
    expectOneError(r, /cannot run '.*no-such-program': No such file or directory/, true);
  });

  it('a trace path that cannot be written', async () => {
    const r = await runProfinferd(['record', '-o', join(dir, 'no-such-dir', 'x.pftrace'), '--', '/bin/true']);
    expectOneError(r, /cannot write .*no-such-dir\/x\.pftrace: No such file or directory/, true);
  });
});

describe('profinferd record refuses a struct layout that does not fit the engine', () => {
  it('stops with one error and writes no structure read through wrong offsets', async () => {
    const trace = join(dir, 'badlayout.pftrace');
    const r = await runProfinferd([
      'record', '-o', trace, '--layout', 'tensor_op=88,tensor_name=200',
      '--', llamaBin('llama-simple'), '-m', model, '-n', '4', 'Hello',
    ]);
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => /^error:/.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/layout profile .* does not match this GGML: \d+ of \d+ graph nodes.*--layout/);
    const t = await readTrace(trace);
    expect(t.sessionEnd?.reason).toBe('stopped: wrong struct layout');
    expect(t.packets.filter((p) => p.graphStructure)).toHaveLength(0);
  });
});
