// Generated test models (see host/src/gguf/): where they are cached, and
// generating one on demand. scripts/setup/20_models.sh warms the cache, so
// tests normally find the files already there.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelCachePath } from '../../host/src/gguf/model_cache.js';
import type { PresetName, WeightTypeName } from '../../host/src/gguf/model_generator.js';

export type { PresetName, WeightTypeName };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where `profinfer-host model generate` puts this model (default seed). */
export function modelPath(preset: PresetName, type: WeightTypeName): string {
  return modelCachePath(preset, type);
}

/**
 * The model's path, generating it first if it is missing. Runs the CLI from source
 * (through tsx) rather than host/dist, which may be stale; the CLI writes to a temp
 * name and renames, so a test killed midway leaves no half file.
 */
export function ensureModel(preset: PresetName, type: WeightTypeName): string {
  const path = modelPath(preset, type);
  if (existsSync(path)) return path;
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'host/src/cli.ts', 'model', 'generate', '--preset', preset, '--type', type, '-o', path],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (!existsSync(path)) throw new Error(`model generate did not produce ${path}`);
  return path;
}
