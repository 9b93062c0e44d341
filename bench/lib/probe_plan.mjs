// Where profinferd puts its probes in an engine binary (`profinferd probes`),
// as a plan the competing tracers attach at the same places. Parsed from the
// collector's own output so the comparison follows it when the planner changes.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';

// "  node_loop_barrier ggml_graph_compute_thread.isra.0+0x1dc call GOMP_barrier  file offset 0x5ec3dc ... node_n+1 in r12, ..."
const LINE = /^\s+(\w+)\s+(\S+)\+0x([0-9a-f]+)(?:\s+call\s+(\S+))?\s+file offset 0x([0-9a-f]+)(.*)$/;

/**
 * @returns {{binary: string, probes: {name: string, symbol: string, offset: number,
 *   callee?: string, fileOffset: number, counterReg?: string, ret: boolean}[]}}
 */
export function probePlan(profinferd, binary, level = 'node') {
  const out = execFileSync(profinferd, ['probes', '--level', level, binary], { encoding: 'utf8' });
  const probes = [];
  for (const line of out.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const reg = /node_n\+1 in (\w+)/.exec(m[6]);
    probes.push({
      name: m[1], symbol: m[2], offset: parseInt(m[3], 16), callee: m[4], fileOffset: parseInt(m[5], 16),
      counterReg: reg?.[1], ret: /_exit$/.test(m[1]),
    });
  }
  if (!probes.some((p) => p.name === 'token_enter')) {
    throw new Error(`profinferd probes found no llama_decode in ${binary}: is it a llama.cpp binary? Output: ${out.slice(0, 500)}`);
  }
  return { binary: realpathSync(binary), probes };
}

/** The shared library that defines `symbol` for `binary` (a PLT callee such as GOMP_barrier), via ldd and nm -D. */
export function libraryDefining(binary, symbol) {
  const ldd = execFileSync('ldd', [binary], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/=>\s+(\/\S+)/g)) {
    const lib = realpathSync(m[1]);
    const syms = execFileSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (new RegExp(`\\s${symbol.replace(/[.$]/g, '\\$&')}(@@\\S+)?$`, 'm').test(syms)) return lib;
  }
  return undefined;
}
