#!/usr/bin/env node
// A real llama.cpp workload for the profiler: node-llama-cpp's prebuilt CPU
// libraries load a GGUF model, evaluate a prompt and greedily generate exactly
// N tokens (EOS does not stop it), then one JSON line goes to stdout:
//   {"prompt_tokens","generated_tokens","load_ms","ttft_ms","decode_tokens_per_s","tpot_ms","text"}
// stderr: the first line is `pid=<PID>` (a profiler attaches to it); with
// --wait-for-signal a `waiting for SIGUSR1` line follows once the model is
// loaded, and nothing is generated until SIGUSR1 arrives.
//
//   node test/workloads/nlc_generate.mjs --model PATH --tokens N --threads T
//        [--prompt TEXT] [--context N] [--wait-for-signal] [--engine-dir DIR]
//
// Plain Node ESM, no build step: node-llama-cpp lives outside the repository
// (scripts/setup/node_llama_cpp.sh), so it is imported by absolute path.
// Timings: load_ms = getLlama + loadModel + createContext; ttft_ms = prompt
// evaluation until the first generated token; tpot_ms and decode_tokens_per_s
// cover the N - 1 tokens after the first.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

process.stderr.write(`pid=${process.pid}\n`);

export const NLC_VERSION = '3.22.1';
const DEFAULT_PROMPT = 'The quick brown fox jumps over the lazy dog. Profiling inference one token at a time shows';

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function engineDir() {
  if (process.env.PROFINFER_NLC_DIR) return process.env.PROFINFER_NLC_DIR;
  const cache =
    process.env.PROFINFER_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'profinfer');
  return join(cache, 'node-llama-cpp', NLC_VERSION);
}

function positiveInt(name, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

let opts;
try {
  opts = parseArgs({
    options: {
      model: { type: 'string' },
      tokens: { type: 'string', default: '32' },
      threads: { type: 'string', default: '2' },
      prompt: { type: 'string', default: DEFAULT_PROMPT },
      context: { type: 'string' },
      'wait-for-signal': { type: 'boolean', default: false },
      'engine-dir': { type: 'string' },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(err.message);
}
if (!opts.model) fail('--model PATH is required');
if (!existsSync(opts.model)) fail(`model not found: ${opts.model}`);
const nTokens = positiveInt('tokens', opts.tokens);
const threads = positiveInt('threads', opts.threads);

const dir = opts['engine-dir'] ?? engineDir();
const entry = join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
if (!existsSync(entry)) fail(`node-llama-cpp ${NLC_VERSION} not found at ${entry}: run scripts/setup.sh`);
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

// llama.cpp logs go to stderr: stdout carries only the result line.
const logger = (level, message) => {
  if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) process.stderr.write(`llama.cpp: ${message}\n`);
};

const tLoad0 = performance.now();
// CPU prebuilt only: never build from source or download anything.
const llama = await getLlama({
  gpu: false,
  build: 'never',
  usePrebuiltBinaries: true,
  skipDownload: true,
  progressLogs: false,
  maxThreads: threads,
  logLevel: LlamaLogLevel.warn,
  logger,
});
const model = await llama.loadModel({ modelPath: opts.model, gpuLayers: 0 });

const promptTokens = model.tokenize(opts.prompt);
if (model.tokens.bos != null) promptTokens.unshift(model.tokens.bos);
const contextSize = opts.context
  ? positiveInt('context', opts.context)
  : Math.min(model.trainContextSize, Math.max(256, promptTokens.length + nTokens + 16));
if (promptTokens.length + nTokens > contextSize) {
  fail(`prompt (${promptTokens.length} tokens) + ${nTokens} generated tokens do not fit a context of ${contextSize}`);
}
const context = await model.createContext({
  contextSize,
  batchSize: Math.min(contextSize, 512),
  threads: { ideal: threads, min: threads },
});
const sequence = context.getSequence();
const loadMs = performance.now() - tLoad0;

if (opts['wait-for-signal']) {
  // A pending promise does not keep Node alive: the interval does, until the signal.
  await new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    process.once('SIGUSR1', () => {
      clearInterval(keepAlive);
      resolve();
    });
    process.stderr.write('waiting for SIGUSR1\n');
  });
}

const generated = [];
let tFirst = 0;
const tPrompt0 = performance.now();
for await (const token of sequence.evaluate(promptTokens, { temperature: 0, yieldEogToken: true })) {
  if (generated.length === 0) tFirst = performance.now();
  generated.push(token);
  if (generated.length >= nTokens) break;
}
const tEnd = performance.now();
if (generated.length !== nTokens) fail(`generation stopped after ${generated.length} of ${nTokens} tokens`);

const decodeMs = tEnd - tFirst;
const decodeTokens = nTokens - 1;
const result = {
  prompt_tokens: promptTokens.length,
  generated_tokens: generated.length,
  load_ms: round(loadMs),
  ttft_ms: round(tFirst - tPrompt0),
  decode_tokens_per_s: decodeTokens > 0 && decodeMs > 0 ? round((decodeTokens * 1000) / decodeMs) : null,
  tpot_ms: decodeTokens > 0 ? round(decodeMs / decodeTokens) : null,
  text: model.detokenize(generated),
};
process.stdout.write(`${JSON.stringify(result)}\n`);

await context.dispose();
await model.dispose();
await llama.dispose();

function round(x) {
  return Math.round(x * 1000) / 1000;
}
