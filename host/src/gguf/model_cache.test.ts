import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelCachePath, profinferCacheDir } from './model_cache.js';
import { GENERATOR_VERSION } from './model_generator.js';

describe('model cache paths', () => {
  it('uses $PROFINFER_CACHE first, then $XDG_CACHE_HOME, then ~/.cache (as scripts/setup/common.sh)', () => {
    expect(profinferCacheDir({ PROFINFER_CACHE: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(profinferCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/profinfer');
    expect(profinferCacheDir({})).toBe(join(homedir(), '.cache', 'profinfer'));
  });

  it('keys model files by generator version, preset, type and seed', () => {
    expect(modelCachePath('tiny', 'q8_0', undefined, { PROFINFER_CACHE: '/c' })).toBe(`/c/models/${GENERATOR_VERSION}/tiny-q8_0.gguf`);
    expect(modelCachePath('moe', 'f16', 9, { PROFINFER_CACHE: '/c' })).toBe(`/c/models/${GENERATOR_VERSION}/moe-f16-s9.gguf`);
  });
});
