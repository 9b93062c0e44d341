// The hvigor project is complete as DevEco Studio / hvigorw expect it: the
// config files parse, the ability and pages they name exist, INTERNET is
// requested, and every resource a json5 or .ets file refers to
// ($string:x, $media:x, $color:x, $profile:x, $r('app.<type>.<name>')) exists.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_DIR, filesUnder, rel } from './ets_sources';

/** JSON5 as these files use it: JSON plus comments and trailing commas. */
function readJson5(path: string): any {
  const src = readFileSync(path, 'utf8');
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += JSON.stringify(JSON.parse(`"${src.slice(i + 1, j).replace(/"/g, '\\"')}"`));
      i = j;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && src[i + 1] === '*') {
      i = src.indexOf('*/', i + 2) + 1;
    } else {
      out += c;
    }
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
}

interface Resources {
  readonly element: Map<string, Set<string>>;
  readonly media: Set<string>;
  readonly profile: Set<string>;
}

function resources(dir: string): Resources {
  const element = new Map<string, Set<string>>();
  const elDir = join(dir, 'base/element');
  for (const f of existsSync(elDir) ? readdirSync(elDir) : []) {
    const json = JSON.parse(readFileSync(join(elDir, f), 'utf8')) as Record<string, { name: string; value: string }[]>;
    for (const [type, entries] of Object.entries(json)) {
      const names = element.get(type) ?? new Set<string>();
      for (const e of entries) {
        expect(e.value, `${f}: ${type} ${e.name} has a value`).toBeTruthy();
        names.add(e.name);
      }
      element.set(type, names);
    }
  }
  const names = (sub: string) => new Set(existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).map((f) => f.replace(/\.[^.]+$/, '')) : []);
  return { element, media: names('base/media'), profile: names('base/profile') };
}

function has(r: readonly Resources[], type: string, name: string): boolean {
  return r.some((x) => (type === 'media' ? x.media.has(name) : type === 'profile' ? x.profile.has(name) : (x.element.get(type)?.has(name) ?? false)));
}

const appRes = resources(join(APP_DIR, 'AppScope/resources'));
const entryRes = resources(join(APP_DIR, 'entry/src/main/resources'));

describe('hvigor project', () => {
  it('is an OpenHarmony API 12+ stage-model project with one entry module', () => {
    const build = readJson5(join(APP_DIR, 'build-profile.json5'));
    const product = build.app.products.find((p: { name: string }) => p.name === 'default');
    expect(product.runtimeOS).toBe('OpenHarmony');
    expect(product.compatibleSdkVersion).toBeGreaterThanOrEqual(12);
    expect(build.modules).toEqual([expect.objectContaining({ name: 'entry', srcPath: './entry' })]);
    expect(readJson5(join(APP_DIR, 'entry/build-profile.json5')).apiType).toBe('stageMode');
    for (const f of ['hvigorfile.ts', 'entry/hvigorfile.ts', 'oh-package.json5', 'entry/oh-package.json5', 'hvigor/hvigor-config.json5']) {
      expect(existsSync(join(APP_DIR, f)), f).toBe(true);
    }
    expect(readJson5(join(APP_DIR, 'hvigor/hvigor-config.json5')).modelVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(readJson5(join(APP_DIR, 'AppScope/app.json5')).app.bundleName).toMatch(/^[a-z][\w]*(\.[a-z][\w]*)+$/);
  });

  it('declares its ability, its pages and the INTERNET permission', () => {
    const m = readJson5(join(APP_DIR, 'entry/src/main/module.json5')).module;
    expect(m.requestPermissions.map((p: { name: string }) => p.name)).toContain('ohos.permission.INTERNET');
    const main = m.abilities.find((a: { name: string }) => a.name === m.mainElement);
    expect(existsSync(join(APP_DIR, 'entry/src/main', main.srcEntry)), main.srcEntry).toBe(true);
    expect(readFileSync(join(APP_DIR, 'entry/src/main', main.srcEntry), 'utf8')).toMatch(/export default class EntryAbility extends UIAbility/);
    const pages = JSON.parse(readFileSync(join(APP_DIR, 'entry/src/main/resources/base/profile/main_pages.json'), 'utf8')).src as string[];
    for (const p of pages) {
      expect(readFileSync(join(APP_DIR, 'entry/src/main/ets', `${p}.ets`), 'utf8')).toMatch(/@Entry\s*\n@Component/);
    }
  });

  it('has every resource the json5 files refer to', () => {
    const refs: [string, Resources[], string, string][] = [];
    const collect = (file: string, where: Resources[]) => {
      for (const m of readFileSync(file, 'utf8').matchAll(/"\$(string|media|color|profile):(\w+)"/g)) refs.push([rel(file), where, m[1]!, m[2]!]);
    };
    collect(join(APP_DIR, 'AppScope/app.json5'), [appRes]);
    collect(join(APP_DIR, 'entry/src/main/module.json5'), [entryRes, appRes]);
    expect(refs.length).toBeGreaterThanOrEqual(8);
    const missing = refs.filter(([, where, type, name]) => !has(where, type, name)).map(([f, , t, n]) => `${f}: $${t}:${n}`);
    expect(missing).toEqual([]);
  });

  it('has every resource the .ets files refer to', () => {
    const missing: string[] = [];
    let n = 0;
    for (const f of filesUnder(join(APP_DIR, 'entry/src/main/ets'), '.ets')) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\$r\('app\.(\w+)\.(\w+)'\)/g)) {
        n++;
        if (!has([entryRes, appRes], m[1]!, m[2]!)) missing.push(`${rel(f)}: app.${m[1]}.${m[2]}`);
      }
    }
    expect(n).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });
});
