// bench/targets/graph_target.c, built against node-llama-cpp's prebuilt GGML:
// the node-level synthetic target of bench/throughput.mjs, also used by the
// collector's tests of libraries loaded late (test/collector/late_library.test.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cache, NLC_VERSION, nlcDir, root } from './engine.mjs';

const benchCache = join(cache, 'bench');

// The node-level target links node-llama-cpp's prebuilt GGML and compiles
// against the headers of the llama.cpp source the cached CLIs were built from:
// the same GGML release, which the target checks at run time (ggml_version()
// against GGML_HEADERS_VERSION).
const NLC_BINS_DIR = join(nlcDir, 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64');
const GGML_SRC = join(cache, 'llama.cpp/current/src/ggml');

/** GGML's version from its CMakeLists.txt, or undefined. */
export function ggmlHeadersVersion() {
  const cmake = join(GGML_SRC, 'CMakeLists.txt');
  if (!existsSync(cmake)) return undefined;
  const text = readFileSync(cmake, 'utf8');
  const part = (k) => new RegExp(`set\\(GGML_VERSION_${k} (\\d+)\\)`).exec(text)?.[1];
  const v = ['MAJOR', 'MINOR', 'PATCH'].map(part);
  return v.every(Boolean) ? v.join('.') : undefined;
}

/** Why the node-level target cannot be built here, or undefined. */
export function graphTargetMissing() {
  if (!existsSync(join(NLC_BINS_DIR, 'libggml-base.so'))) return `node-llama-cpp ${NLC_VERSION}'s prebuilt libggml-base.so not found in ${NLC_BINS_DIR}: run scripts/setup.sh`;
  if (!existsSync(join(GGML_SRC, 'include/ggml-cpu.h'))) return `llama.cpp's GGML headers not found in ${GGML_SRC}/include: run scripts/setup.sh`;
  if (!ggmlHeadersVersion()) return `no GGML_VERSION_MAJOR/MINOR/PATCH in ${GGML_SRC}/CMakeLists.txt`;
  return undefined;
}

/** Builds graph_target (cached per GGML version; rebuilt when the source is newer). */
export function buildGraphTarget() {
  mkdirSync(benchCache, { recursive: true });
  const version = ggmlHeadersVersion();
  const src = join(root, 'bench/targets/graph_target.c');
  const bin = join(benchCache, `graph_target-ggml-${version}`);
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    const tmp = `${bin}.${process.pid}.tmp`; // another bench may be building it too
    execFileSync('cc', ['-O2', '-g', '-fno-inline', '-fno-omit-frame-pointer', '-fno-shrink-wrap',
      `-DGGML_HEADERS_VERSION="${version}"`, '-I', join(GGML_SRC, 'include'), '-o', tmp, src,
      '-L', NLC_BINS_DIR, '-l:libggml-base.so', `-Wl,-rpath,${NLC_BINS_DIR}`, '-ldl', '-lm'], { stdio: 'inherit' });
    renameSync(tmp, bin);
  }
  return bin;
}

