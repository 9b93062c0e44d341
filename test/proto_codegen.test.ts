// Generated code and golden vectors must match the schema (STYLE.md habit 8):
// `scripts/gen_proto.sh --check` regenerates everything into a temp dir and
// fails, naming the stale files, when a checked-in copy differs. Fix with
// `npm run gen:proto`. And the generated TS has one door (habit 9).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('generated from proto/profinfer/v1/profinfer.proto', () => {
  test('collector-c/gen, host/src/gen and proto/testdata/*.bin are up to date', () => {
    const run = spawnSync('bash', ['scripts/gen_proto.sh', '--check'], { cwd: ROOT, encoding: 'utf8' });
    const output = `${run.stdout}${run.stderr}`;
    expect(output).toContain('generated code is up to date');
    expect(output).toContain('golden vectors: ');
    expect(output).not.toContain('stale');
    expect(run.status).toBe(0);
  });

  test('only host/src/proto.ts imports host/src/gen', () => {
    const src = join(ROOT, 'host/src');
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (path !== join(src, 'gen')) walk(path);
        } else if (/\.ts$/.test(entry.name) && path !== join(src, 'proto.ts')) {
          if (/from\s+['"][./]*\/?gen\/|from\s+['"]\.\/gen\//.test(readFileSync(path, 'utf8'))) {
            offenders.push(relative(ROOT, path));
          }
        }
      }
    };
    walk(src);
    expect(offenders, 'import profinfer types from host/src/proto.ts instead').toEqual([]);
  });
});
