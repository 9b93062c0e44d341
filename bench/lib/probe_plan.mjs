// Where profinferd puts its probes in an engine (`profinferd probes`), as a plan
// the competing tracers attach at the same places. Parsed from the collector's
// own output so the comparison follows it when the planner changes. An engine
// may span several files (node-llama-cpp: llama_decode in libllama, the compute
// loop in the libggml-cpu variant it loaded): every probe names its file.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';

// "/path/libggml-cpu-haswell.so (build id 6ea9...):"
const FILE = /^(\/\S+) \(build id [0-9a-f]*\):$/;
// "  node_loop_barrier ggml_graph_compute_thread.isra.0+0x1dc call GOMP_barrier  file offset 0x5ec3dc ... node_n+1 in r12, ..."
const LINE = /^\s+(\w+)\s+(\S+)\+0x([0-9a-f]+)(?:\s+call\s+(\S+))?\s+file offset 0x([0-9a-f]+)(.*)$/;

/**
 * @param {string|string[]} binaries the engine's files (executable and/or libraries)
 * @returns {{binaries: string[], probes: {binary: string, name: string, symbol: string,
 *   offset: number, callee?: string, fileOffset: number, counterReg?: string,
 *   counterSlot?: {reg: string, offset: number}, ret: boolean}[]}}
 *   counterReg / counterSlot: where the loop's node_n + 1 is at the call site
 *   (a register, or a stack slot [reg+offset]).
 */
export function probePlan(profinferd, binaries, level = 'node') {
  const files = (Array.isArray(binaries) ? binaries : [binaries]).map((b) => realpathSync(b));
  const out = execFileSync(profinferd, ['probes', '--level', level, ...files], { encoding: 'utf8' });
  const probes = [];
  let binary;
  for (const line of out.split('\n')) {
    const f = FILE.exec(line);
    if (f) binary = realpathSync(f[1]);
    const m = LINE.exec(line);
    if (!m || !binary) continue;
    const reg = /node_n\+1 in (\w+)/.exec(m[6]);
    const slot = /node_n\+1 at \[(\w+)\+0x([0-9a-f]+)\]/.exec(m[6]);
    probes.push({
      binary, name: m[1], symbol: m[2], offset: parseInt(m[3], 16), callee: m[4], fileOffset: parseInt(m[5], 16),
      counterReg: reg?.[1], counterSlot: slot ? { reg: slot[1], offset: parseInt(slot[2], 16) } : undefined,
      ret: /_exit$/.test(m[1]),
    });
  }
  if (!probes.some((p) => p.name === 'token_enter')) {
    throw new Error(`profinferd probes found no llama_decode in ${files.join(', ')}: is it a llama.cpp engine? Output: ${out.slice(0, 500)}`);
  }
  if (level === 'node' && !probes.some((p) => p.name.startsWith('node_'))) {
    throw new Error(`profinferd probes found no GGML compute loop in ${files.join(', ')} (pass the libggml-cpu the engine loads). Output: ${out.slice(0, 500)}`);
  }
  return { binaries: files, probes };
}

/**
 * The file that defines `symbol` for `binary` (a callee such as GOMP_barrier
 * behind the PLT, or ggml_barrier in the same library): the binary itself, else
 * one of its ldd dependencies, via nm -D.
 */
export function libraryDefining(binary, symbol) {
  const defines = (file) => {
    const syms = execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    return new RegExp(`\\s${symbol.replace(/[.$]/g, '\\$&')}(@@\\S+)?$`, 'm').test(syms);
  };
  if (defines(binary)) return binary;
  const ldd = execFileSync('ldd', [binary], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/=>\s+(\/\S+)/g)) {
    const lib = realpathSync(m[1]);
    if (defines(lib)) return lib;
  }
  return undefined;
}
