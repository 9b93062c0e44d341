// Where generated models live: $PROFINFER_CACHE (or ~/.cache/profinfer, the same
// default as scripts/setup/common.sh) + models/<GENERATOR_VERSION>/<file>. The
// generator version in the path means a changed generator never reuses old files.

import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SEED, GENERATOR_VERSION, PresetName, WeightTypeName, modelFileName } from './model_generator.js';

export function profinferCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PROFINFER_CACHE) return env.PROFINFER_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'profinfer');
}

export function modelCachePath(
  preset: PresetName,
  type: WeightTypeName,
  seed: number = DEFAULT_SEED,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return join(profinferCacheDir(env), 'models', GENERATOR_VERSION, modelFileName(preset, type, seed));
}
