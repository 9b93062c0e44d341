// arkts_linter.ts: runs the ArkTS linter of ohos-typescript (ArkTSLinter_1_1,
// the rules hvigor's ArkTSCheck applies: no any/unknown, no untyped object
// literals, no #private, no destructuring, ...) over plain .ts files as if
// they were .ets, since the app's logic modules must also be valid ArkTS.
//
// ohos-typescript lives in ohos-app/tools/arkts-lint, outside the root npm
// tree: it installs tsc/tsserver bins that would replace TypeScript's in
// node_modules/.bin. Install: npm ci --prefix ohos-app/tools/arkts-lint
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { APP_DIR } from './ets_sources';

const LINT_DIR = join(APP_DIR, 'tools/arkts-lint');

export interface LintProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- ohos-typescript has no types we install */
function loadOhosTypescript(): any {
  const pkg = join(LINT_DIR, 'node_modules/ohos-typescript/package.json');
  if (!existsSync(pkg)) {
    throw new Error(`the ArkTS linter is not installed: run \`npm ci --prefix ohos-app/tools/arkts-lint\` (${pkg} is missing)`);
  }
  return createRequire(pkg)('ohos-typescript');
}

export function lintArkTS(files: readonly string[]): LintProblem[] {
  const ts = loadOhosTypescript();
  const options = {
    target: ts.ScriptTarget.ES2021,
    module: ts.ModuleKind.ES2020,
    moduleResolution: ts.ModuleResolutionKind.NodeJs,
    strict: true,
    noEmit: true,
    lib: ['lib.es2021.d.ts'],
    skipLibCheck: true,
  };
  const host = ts.createIncrementalCompilerHost(options);
  const original = host.getSourceFile;
  host.getSourceFile = (fileName: string, lang: unknown, onError: unknown, create: unknown) => {
    if (fileName.endsWith('.ts') && !fileName.endsWith('.d.ts')) {
      const text = readFileSync(fileName, 'utf8');
      // The linter only looks at ETS sources: present the .ts file as one.
      const sf = ts.createSourceFile(fileName, text, lang, true, ts.ScriptKind.ETS);
      sf.version = ts.sys.createHash ? ts.sys.createHash(text) : String(text.length);
      return sf;
    }
    return original.call(host, fileName, lang, onError, create);
  };
  const builder = ts.createIncrementalProgram({ rootNames: [...files], options, host });
  const diags: any[] = ts.ArkTSLinter_1_1.runArkTSLinter(builder, undefined, undefined, 'ArkTS_1_1');
  return diags.map((d) => ({
    file: d.file ? d.file.fileName : '?',
    line: d.file ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}
