// The cached llama.cpp CLIs and generated models the benchmarks run, and the
// engine's own figures parsed from their output (hostile until validated).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');
export const cache = process.env.PROFINFER_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'profinfer');
export const profinferd = join(root, 'build/collector-c/profinferd');

/** node-llama-cpp as scripts/setup installs it (keep in step with test/workloads/nlc_generate.mjs). */
export const NLC_VERSION = '3.22.1';
export const nlcDir = join(cache, 'node-llama-cpp', NLC_VERSION);

/** Path of a cached llama.cpp CLI (llama-bench, llama-simple, llama-eval-callback, ...). */
export function llamaBin(name) {
  const p = join(cache, 'llama.cpp/current/bin', name);
  if (!existsSync(p)) throw new Error(`${name} not found at ${p}: run scripts/setup.sh`);
  return p;
}

export function requireProfinferd() {
  if (!existsSync(profinferd)) throw new Error(`profinferd not found at ${profinferd}: run scripts/setup.sh`);
  return profinferd;
}

/** Generates (once) and returns the model of a preset and type. */
export function modelPath(preset, type) {
  const cli = join(root, 'host/dist/cli.js');
  execFileSync('node', [cli, 'model', 'generate', '--preset', preset, '--type', type], { stdio: ['ignore', 'ignore', 'inherit'] });
  return execFileSync('node', [cli, 'model', 'path', '--preset', preset, '--type', type], { encoding: 'utf8' }).trim();
}

/** A prompt of about n tokens for the generated models' tokenizer. */
export const promptOf = (n) => Array.from({ length: n }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]).join(' ');

/**
 * llama_perf_context_print's totals: prompt eval ms / tokens, eval ms / runs.
 * Throws when a line is missing (an engine that prints none has no own timing).
 */
export function llamaPerfContext(stderr) {
  const p = /llama_perf_context_print:\s+prompt eval time =\s+([\d.]+) ms \/\s+(\d+) tokens/.exec(stderr);
  const e = /llama_perf_context_print:\s+eval time =\s+([\d.]+) ms \/\s+(\d+) runs/.exec(stderr);
  if (!p || !e) throw new Error(`no llama_perf_context_print totals in the engine's output: ${stderr.slice(-600)}`);
  return { promptEvalMs: +p[1], promptTokens: +p[2], evalMs: +e[1], evalRuns: +e[2] };
}

/** (name, op) of every tensor llama-eval-callback printed, in order. */
export function evalCallbackOps(text) {
  return [...text.matchAll(/^common_debug_cb_eval:\s+(\S+) = \(\w+\)\s+(\w+)\(/gm)].map((m) => ({ name: m[1], op: m[2] }));
}
