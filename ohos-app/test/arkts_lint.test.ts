// The app's logic modules (protocol/, model/) are plain TypeScript so vitest
// can run them, and must also be valid ArkTS: the ArkTS linter
// (ohos-typescript's ArkTSLinter_1_1) checks them, and flags the TypeScript
// habits ArkTS forbids in a snippet (the check can fail).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lintArkTS } from './arkts_linter';
import { ETS_DIR, filesUnder, rel } from './ets_sources';

const tmp = mkdtempSync(join(tmpdir(), 'pi-arkts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ArkTS rules (ohos-typescript ArkTSLinter_1_1)', () => {
  it('the protocol and model modules follow them', () => {
    const files = [...filesUnder(join(ETS_DIR, 'protocol'), '.ts'), ...filesUnder(join(ETS_DIR, 'model'), '.ts')];
    expect(files.length).toBeGreaterThanOrEqual(10);
    const problems = lintArkTS(files).map((p) => `${rel(p.file)}:${p.line} ${p.message}`);
    expect(problems).toEqual([]);
  }, 60_000);

  it('flags what ArkTS forbids', () => {
    const bad = join(tmp, 'bad.ts');
    writeFileSync(bad, [
      'export function f(x: any): number { return x; }',
      'export const o = { a: 1 };',
      'export class P { #x: number = 1; get x(): number { return this.#x; } }',
      'export function g(p: number[]): number { const [a, b] = p; return a + b; }',
      '',
    ].join('\n'));
    const got = lintArkTS([bad]).map((p) => `${p.line} ${p.message}`).join('\n');
    expect(got).toMatch(/^1 .*arkts-no-any-unknown/m);
    expect(got).toMatch(/^2 .*arkts-no-untyped-obj-literals/m);
    expect(got).toMatch(/^3 .*arkts-no-private-identifiers/m);
    expect(got).toMatch(/^4 .*arkts-no-destruct-decls/m);
  }, 60_000);
});
