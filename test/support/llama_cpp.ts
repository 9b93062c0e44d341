// The llama.cpp command-line tools built from node-llama-cpp's source bundle by
// scripts/setup/10_llama_cpp.sh: where they are, running one, and parsing what
// they print. Static ggml, OpenMP threads, CPU only, unstripped (.symtab and
// DWARF), in $PROFINFER_CACHE/llama.cpp/<key>/bin with `current` -> <key>.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { profinferCacheDir } from '../../host/src/gguf/model_cache.js';

/** $PROFINFER_CACHE/llama.cpp: one directory per build key, plus `current`. */
export const LLAMA_CPP_ROOT = join(profinferCacheDir(), 'llama.cpp');

/** The stable link to the build that scripts/setup.sh made last. */
export const LLAMA_CPP_CURRENT = join(LLAMA_CPP_ROOT, 'current');

export const LLAMA_TOOLS = ['llama-cli', 'llama-completion', 'llama-simple', 'llama-bench', 'llama-eval-callback'] as const;
export type LlamaTool = (typeof LLAMA_TOOLS)[number];

/** llama-simple variants for symbol-resolution tests (strip, --only-keep-debug, .gnu_debuglink). */
export const LLAMA_SIMPLE_VARIANTS = ['llama-simple.stripped', 'llama-simple.debug', 'llama-simple.debuglink'] as const;
export type LlamaSimpleVariant = (typeof LLAMA_SIMPLE_VARIANTS)[number];

const SETUP_HINT = 'run scripts/setup.sh (as root) to build the llama.cpp tools';

export function llamaCppInstalled(): boolean {
  return existsSync(join(LLAMA_CPP_CURRENT, '.complete'));
}

/**
 * The build directory `current` points at, resolved: the path a traced process's
 * /proc/PID/maps shows, which is what a profiler matches its uprobes against.
 */
export function llamaCppDir(): string {
  if (!llamaCppInstalled()) {
    throw new Error(`the llama.cpp tools are not built (no ${join(LLAMA_CPP_CURRENT, '.complete')}): ${SETUP_HINT}`);
  }
  return realpathSync(LLAMA_CPP_CURRENT);
}

/** Path of one built binary; throws, saying how to build it, when it is missing. */
export function llamaBin(name: LlamaTool | LlamaSimpleVariant): string {
  const path = join(llamaCppDir(), 'bin', name);
  if (!existsSync(path)) throw new Error(`${path} is missing from the llama.cpp build: ${SETUP_HINT}`);
  return path;
}

export interface LlamaCppBins {
  readonly cli: string;
  readonly completion: string;
  readonly simple: string;
  readonly bench: string;
  readonly evalCallback: string;
  readonly simpleStripped: string;
  readonly simpleDebug: string;
  readonly simpleDebuglink: string;
}

/** Every built binary's path (throws when the build is missing or incomplete). */
export function llamaCppBins(): LlamaCppBins {
  return {
    cli: llamaBin('llama-cli'),
    completion: llamaBin('llama-completion'),
    simple: llamaBin('llama-simple'),
    bench: llamaBin('llama-bench'),
    evalCallback: llamaBin('llama-eval-callback'),
    simpleStripped: llamaBin('llama-simple.stripped'),
    simpleDebug: llamaBin('llama-simple.debug'),
    simpleDebuglink: llamaBin('llama-simple.debuglink'),
  };
}

/** build-info.txt as key -> value: commit, options, cc, cxx, key, built, ... */
export function llamaCppBuildInfo(): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of readFileSync(join(llamaCppDir(), 'build-info.txt'), 'utf8').split('\n')) {
    const m = /^([\w-]+): (.*)$/.exec(line);
    if (m) info[m[1] as string] = m[2] as string;
  }
  return info;
}

export interface ToolRun {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
}

/** Run a binary to completion with stdin closed; kills it (SIGKILL) after timeoutMs. */
export function runTool(bin: string, args: readonly string[], timeoutMs = 120_000, env?: NodeJS.ProcessEnv): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ pid: child.pid ?? -1, code, signal, stdout, stderr, wallMs: performance.now() - t0 });
    });
  });
}

/**
 * The engine's own timings: `llama_perf_context_print` (llama-simple, llama-eval-callback)
 * or `common_perf_print` (llama-completion), e.g.
 *   prompt eval time =      19.09 ms /    10 tokens (...)
 *          eval time =      34.63 ms /    15 runs   (...)
 * `evalRuns` counts decode calls after the prompt: one less than the generated tokens,
 * since the first token is sampled from the prompt's logits.
 */
export interface LlamaPerf {
  readonly loadMs: number;
  readonly promptEvalMs: number;
  readonly promptTokens: number;
  readonly evalMs: number;
  readonly evalRuns: number;
  readonly totalMs: number;
  readonly totalTokens: number;
}

export function parseLlamaPerf(text: string): LlamaPerf | undefined {
  const num = (re: RegExp): number[] | undefined => {
    const m = re.exec(text);
    return m ? m.slice(1).map(Number) : undefined;
  };
  const P = '(?:llama_perf_context_print|common_perf_print):\\s+';
  const load = num(new RegExp(`${P}load time =\\s+([\\d.]+) ms`));
  const prompt = num(new RegExp(`${P}prompt eval time =\\s+([\\d.]+) ms /\\s+(\\d+) tokens`));
  const evalT = num(new RegExp(`${P}eval time =\\s+([\\d.]+) ms /\\s+(\\d+) runs`));
  const total = num(new RegExp(`${P}total time =\\s+([\\d.]+) ms /\\s+(\\d+) tokens`));
  if (!load || !prompt || !evalT || !total) return undefined;
  return {
    loadMs: load[0] as number,
    promptEvalMs: prompt[0] as number,
    promptTokens: prompt[1] as number,
    evalMs: evalT[0] as number,
    evalRuns: evalT[1] as number,
    totalMs: total[0] as number,
    totalTokens: total[1] as number,
  };
}

/** llama-simple's `main: decoded N tokens in S s, speed: R t/s`. */
export interface SimpleDecoded {
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSecond: number;
}

export function parseSimpleDecoded(stderr: string): SimpleDecoded | undefined {
  const m = /main: decoded (\d+) tokens in ([\d.]+) s, speed: ([\d.]+|inf|nan) t\/s/.exec(stderr);
  if (!m) return undefined;
  return { tokens: Number(m[1]), seconds: Number(m[2]), tokensPerSecond: Number(m[3]) };
}

/** The fields of one `llama-bench -o json` record that tests use. */
export interface BenchRecord {
  readonly build_commit: string;
  readonly backends: string;
  readonly model_filename: string;
  readonly model_n_params: number;
  readonly n_threads: number;
  readonly n_prompt: number;
  readonly n_gen: number;
  readonly avg_ns: number;
  readonly avg_ts: number;
  readonly stddev_ts: number;
  readonly samples_ns: readonly number[];
  readonly samples_ts: readonly number[];
}

export function parseBenchJson(stdout: string): BenchRecord[] {
  return JSON.parse(stdout) as BenchRecord[];
}

/** llama-cli's closing `[ Prompt: X t/s | Generation: Y t/s ]`. */
export function parseCliSpeed(stdout: string): { promptTps: number; generationTps: number } | undefined {
  const m = /\[ Prompt: ([\d.]+) t\/s \| Generation: ([\d.]+) t\/s \]/.exec(stdout);
  return m ? { promptTps: Number(m[1]), generationTps: Number(m[2]) } : undefined;
}
