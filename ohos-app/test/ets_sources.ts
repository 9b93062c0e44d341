// ets_sources.ts: the app's source files, for the checks that read them all.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
export const ETS_DIR = join(APP_DIR, 'entry/src/main/ets');

/** Files under `dir` whose names end with `suffix`, skipping node_modules and build outputs. */
export function filesUnder(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'oh_modules' || e.name === 'build' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out.sort();
}

export function rel(p: string): string {
  return relative(APP_DIR, p);
}
