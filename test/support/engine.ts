// The engine under test: node-llama-cpp's prebuilt CPU llama.cpp, installed
// outside the repository by scripts/setup/node_llama_cpp.sh, and the runner
// test/workloads/nlc_generate.mjs that drives it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profinferCacheDir } from '../../host/src/gguf/model_cache.js';

/** Keep in step with NLC_VERSION in scripts/setup/common.sh. */
export const NLC_VERSION = '3.22.1';

/** $PROFINFER_CACHE/node-llama-cpp/<version>: holds node_modules/node-llama-cpp. */
export const NLC_DIR = join(profinferCacheDir(), 'node-llama-cpp', NLC_VERSION);

/** The package entry the runner imports. */
export const NLC_ENTRY = join(NLC_DIR, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

/** Prebuilt libllama / libggml-base / libggml-cpu-<variant>.so (one variant is dlopen'ed at run time). */
export const NLC_BINS_DIR = join(NLC_DIR, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');

export const NLC_GENERATE = fileURLToPath(new URL('../workloads/nlc_generate.mjs', import.meta.url));

export function nlcInstalled(): boolean {
  return existsSync(NLC_ENTRY) && existsSync(NLC_BINS_DIR);
}

/** The runner's stdout line (see the header of nlc_generate.mjs). */
export interface GenerateResult {
  readonly prompt_tokens: number;
  readonly generated_tokens: number;
  readonly load_ms: number;
  readonly ttft_ms: number;
  readonly decode_tokens_per_s: number | null;
  readonly tpot_ms: number | null;
  readonly text: string;
}

export interface GenerateOptions {
  readonly model: string;
  readonly tokens: number;
  readonly threads?: number;
  readonly prompt?: string;
  readonly context?: number;
}

export function generateArgs(o: GenerateOptions & { waitForSignal?: boolean }): string[] {
  const args = [NLC_GENERATE, '--model', o.model, '--tokens', String(o.tokens), '--threads', String(o.threads ?? 2)];
  if (o.prompt !== undefined) args.push('--prompt', o.prompt);
  if (o.context !== undefined) args.push('--context', String(o.context));
  if (o.waitForSignal) args.push('--wait-for-signal');
  return args;
}

export interface GenerateRun {
  readonly pid: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Parsed stdout, when the run succeeded. */
  readonly result?: GenerateResult;
}

/** Run nlc_generate.mjs to completion. */
export function runGenerate(o: GenerateOptions): Promise<GenerateRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, generateArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim();
      resolve({
        pid: child.pid ?? -1,
        code,
        stdout,
        stderr,
        ...(code === 0 && line ? { result: JSON.parse(line) as GenerateResult } : {}),
      });
    });
  });
}
