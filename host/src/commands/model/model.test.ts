import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { planModel } from '../../gguf/model_generator.js';
import { generateCommand, pathCommand } from './model.js';

const dir = mkdtempSync(join(tmpdir(), 'model-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function capture(): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out, err };
}

describe('model generate', () => {
  it('writes the planned file atomically and skips it the second time', async () => {
    const output = join(dir, 'sub', 'tiny.gguf');
    const io = capture();
    await generateCommand({ preset: 'tiny', type: 'q8_0', seed: 1, output });
    expect(io.out).toEqual([`${output}\n`]);
    expect(statSync(output).size).toBe(planModel('tiny', 'q8_0').header.fileBytes);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['tiny.gguf']); // no temp file left behind
    const first = readFileSync(output);

    await generateCommand({ preset: 'tiny', type: 'q8_0', seed: 1, output });
    expect(io.err.join('')).toMatch(/model exists, skipping/);
    expect(readFileSync(output).equals(first)).toBe(true);
  });

  it('reports a write failure as one error, leaving nothing behind', async () => {
    capture();
    const output = join(dir, 'file-not-dir');
    await generateCommand({ preset: 'tiny', type: 'f16', seed: 1, output });
    await expect(generateCommand({ preset: 'tiny', type: 'f16', seed: 1, output: join(output, 'x.gguf') })).rejects.toThrow(
      /failed to create/,
    );
  });
});

describe('model path', () => {
  it('prints the cache path', async () => {
    vi.stubEnv('PROFINFER_CACHE', '/cache');
    const io = capture();
    await pathCommand({ preset: 'moe', type: 'f16', seed: 1 });
    expect(io.out.join('')).toMatch(/^\/cache\/models\/v\d+\/moe-f16\.gguf\n$/);
    vi.unstubAllEnvs();
  });
});
