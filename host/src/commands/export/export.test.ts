import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPerfettoTrace } from '../../export/perfetto_check.js';
import { Trace } from '../../proto.js';
import { defaultOutput, runExport } from './export.js';

let dir: string;
let trace: string;
let bytes: Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pi-export-cmd-'));
  trace = join(dir, 'run.pftrace');
  bytes = Trace.encode({
    packet: [
      { process: { pid: 10, exe: '/bin/llama-simple' } },
      { graph: { pid: 10, tid: 10, graphId: 1, startNs: 1100, durationNs: 800 } },
      { token: { pid: 10, tid: 10, startNs: 1000, durationNs: 1000, nTokens: 1, seq: 1 } },
      { graph: { pid: 10, tid: 10, graphId: 2, startNs: 2100, durationNs: 800 } },
      { token: { pid: 10, tid: 10, startNs: 2000, durationNs: 1000, nTokens: 1, seq: 2 } },
    ],
  }).finish();
  writeFileSync(trace, bytes);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('runExport', () => {
  it('names the output after the trace', () => {
    expect(defaultOutput('/x/run.pftrace', 'perfetto')).toBe('/x/run.perfetto-trace');
    expect(defaultOutput('/x/run.pftrace', 'json')).toBe('/x/run.json');
    expect(defaultOutput('/x/run.bin', 'perfetto')).toBe('/x/run.bin.perfetto-trace');
  });

  it('writes the Perfetto trace and reports what it wrote', async () => {
    const r = await runExport({ trace, format: 'perfetto', progress: false });
    expect(r).toMatchObject({ output: join(dir, 'run.perfetto-trace'), format: 'perfetto', tokens: 2, graphs: 2, node_events: 0 });
    expect(r.warning).toBeUndefined();
    const written = readFileSync(r.output);
    expect(written.length).toBe(r.bytes);
    expect(checkPerfettoTrace(new Uint8Array(written)).slices).toHaveLength(4);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('exports the whole packets of a cut trace, with a warning', async () => {
    const cut = join(dir, 'cut.pftrace');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    const r = await runExport({ trace: cut, format: 'json', progress: false });
    expect(r.warning).toMatch(/^trace is cut at byte \d+: packet 4 .*; exported the 4 whole packets before it$/);
    expect(r.tokens).toBe(1);
    const json = JSON.parse(readFileSync(r.output, 'utf8')) as { traceEvents: { ph: string }[] };
    expect(json.traceEvents.filter((e) => e.ph === 'X')).toHaveLength(3); // token 2's graph waits for it: drawn at the end
  });

  it('refuses what is not a trace, and leaves no output behind', async () => {
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'not a trace');
    const out = join(dir, 'junk.perfetto-trace');
    await expect(runExport({ trace: junk, output: out, format: 'perfetto', progress: false })).rejects.toThrow(
      /junk\.bin is not a ProfInfer trace: not a profinfer trace at byte 0/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await expect(runExport({ trace: join(dir, 'missing.pftrace'), format: 'perfetto' })).rejects.toThrow(/cannot read .*missing\.pftrace/);
  });
});
