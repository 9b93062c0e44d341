// The engines bench/compare.mjs runs under each tool: llama.cpp's llama-bench,
// and a node-llama-cpp generation (the prebuilt libraries an app would ship).
// Each gives the command, its decode / prefill tokens per second from the
// engine's own output (hostile until checked), and the files that hold the
// engine's code, for the competing tracers' probe plans.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { llamaBin, NLC_VERSION, nlcDir, promptOf, root } from './engine.mjs';

const NLC_GENERATE = join(root, 'test/workloads/nlc_generate.mjs');

/** llama-bench: -p prompt tokens (pp test) and -n decode tokens (tg test), -r repetitions. */
export function llamaBenchWorkload(opt) {
  const bin = llamaBin('llama-bench');
  return {
    name: 'llama-bench',
    description: `llama-bench -p ${opt.prompt} -n ${opt.tokens} -r ${opt.reps} -t ${opt.threads}`,
    command: (model) => [bin, '-m', model, '-p', opt.prompt, '-n', opt.tokens, '-t', opt.threads, '-r', opt.reps, '-o', 'json'],
    engineFiles: async () => [bin],
    rates(stdout) {
      let tests;
      try {
        tests = JSON.parse(stdout.slice(stdout.indexOf('[')));
      } catch {
        throw new Error(`llama-bench printed no JSON: ${stdout.slice(0, 300)}`);
      }
      const tg = tests.find((t) => t.n_gen > 0 && t.n_prompt === 0);
      const pp = tests.find((t) => t.n_prompt > 0 && t.n_gen === 0);
      if (!tg || !(tg.avg_ts > 0)) throw new Error('llama-bench JSON has no decode (tg) result');
      return { decode: tg.avg_ts, prefill: pp?.avg_ts };
    },
  };
}

/**
 * node-llama-cpp generation (test/workloads/nlc_generate.mjs): a prompt of about
 * --prompt tokens, then --tokens greedy tokens. Decode rate over the tokens after
 * the first; prefill rate = prompt tokens / time to the first token.
 */
export function nodeLlamaCppWorkload(opt) {
  const entry = join(nlcDir, 'node_modules/node-llama-cpp/dist/index.js');
  if (!existsSync(entry)) throw new Error(`node-llama-cpp ${NLC_VERSION} not found at ${entry}: run scripts/setup.sh`);
  const command = (model, extra = []) => [process.execPath, NLC_GENERATE, '--model', model, '--tokens', opt.tokens,
    '--threads', opt.threads, '--prompt', promptOf(Math.max(1, +opt.prompt)), ...extra];
  return {
    name: 'node-llama-cpp',
    description: `node-llama-cpp ${NLC_VERSION} generation: ~${opt.prompt} prompt tokens, ${opt.tokens} generated, ${opt.threads} threads`,
    command,
    engineFiles: (model) => loadedEngineFiles(command(model, ['--wait-for-signal'])),
    rates(stdout) {
      const line = stdout.split('\n').find((l) => l.startsWith('{"prompt_tokens"'));
      if (!line) throw new Error(`nlc_generate printed no result: ${stdout.slice(0, 300)}`);
      const r = JSON.parse(line);
      if (!(r.decode_tokens_per_s > 0) || !(r.ttft_ms > 0) || !(r.prompt_tokens > 0)) {
        throw new Error(`nlc_generate result lacks rates: ${line.slice(0, 300)}`);
      }
      return { decode: r.decode_tokens_per_s, prefill: (1000 * r.prompt_tokens) / r.ttft_ms };
    },
  };
}

/**
 * The libraries a node-llama-cpp run really maps: libllama, and the one
 * libggml-cpu variant ggml chose for this CPU. Starts the generation held at
 * its SIGUSR1 wait (model loaded), reads /proc/PID/maps, then lets it finish.
 */
function loadedEngineFiles(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let files;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (files || !stderr.includes('waiting for SIGUSR1')) return;
      const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
      const paths = [...new Set([...maps.matchAll(/\s(\/\S+\.so[.\d]*)$/gm)].map((m) => m[1]))];
      const llama = paths.find((p) => /\/libllama[^/]*\.so/.test(p));
      const cpu = paths.find((p) => /\/libggml-cpu[^/]*\.so/.test(p));
      files = [llama, cpu].filter(Boolean).map((p) => realpathSync(p));
      child.kill('SIGUSR1');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`node-llama-cpp generation exited with ${code}: ${stderr.slice(-400)}`));
      else if (!files || files.length !== 2) reject(new Error(`node-llama-cpp mapped no libllama / libggml-cpu: ${stderr.slice(-300)}`));
      else resolve(files);
    });
  });
}
