// CI syntax check of every .ets file with @ohos-rs/oxk (an ArkTS/ArkUI parser
// on oxc: `struct` components, decorators, the UI DSL). Without the
// OpenHarmony SDK this is the check that fails the build on a syntax error in
// a view; the logic behind the views is type-checked and ArkTS-linted
// (arkts_lint.test.ts) and tested against profinferd (service.test.ts).
import { readFileSync } from 'node:fs';
import { format } from '@ohos-rs/oxk';
import { describe, expect, it } from 'vitest';
import { APP_DIR, filesUnder, rel } from './ets_sources';

async function parseErrors(filename: string, source: string): Promise<string[]> {
  return (await format(filename, source)).errors;
}

const etsFiles = filesUnder(APP_DIR, '.ets');

describe('ArkTS syntax (oxk)', () => {
  it('finds the app\'s .ets files', () => {
    expect(etsFiles.map(rel)).toEqual(expect.arrayContaining([
      'entry/src/main/ets/entryability/EntryAbility.ets',
      'entry/src/main/ets/pages/Index.ets',
      'entry/src/main/ets/net/TcpControlSocket.ets',
    ]));
  });

  it.each(etsFiles.map((f) => [rel(f), f]))('%s parses without errors', async (_name, file) => {
    expect(await parseErrors(file, readFileSync(file, 'utf8'))).toEqual([]);
  });

  it('catches a broken page and a broken statement (the check can fail)', async () => {
    const page = readFileSync(`${APP_DIR}/entry/src/main/ets/pages/Index.ets`, 'utf8');
    // Drop the first closing parenthesis of the UI DSL: StatusBanner({ ... })
    const broken = page.replace('StatusBanner({ state: this.connState, detail: this.connDetail })', 'StatusBanner({ state: this.connState, detail: this.connDetail }');
    expect(broken).not.toBe(page);
    expect((await parseErrors('Index.ets', broken)).join('\n')).toMatch(/Expected|Unexpected/);
    const component = '@Component\nstruct X {\n  build() {\n    Column() {\n      Text(\'a\').fontSize(\n    }\n  }\n}\n';
    expect(await parseErrors('X.ets', component)).not.toEqual([]);
    expect(await parseErrors('y.ets', 'export function f(: number) {}\n')).not.toEqual([]);
  });
});
