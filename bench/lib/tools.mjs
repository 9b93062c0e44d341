// The competing tools for bench/compare.mjs: whether each can run here, and if
// not, one line saying why and what to do. Benchmark-only tools are never a CI
// dependency: nothing here installs anything; the messages name the command.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** bpftrace on PATH, or why not. */
export function bpftraceMissing() {
  return has('bpftrace') ? undefined : 'bpftrace is not installed: apt-get install -y --no-remove bpftrace';
}

/** perf that runs on this kernel, or why not. */
export function perfMissing() {
  if (!has('perf')) return 'perf is not installed: apt-get install -y --no-remove -t bookworm-backports linux-perf';
  const r = spawnSync('perf', ['record', '-F', '1000', '-g', '-o', '/dev/null', '--', 'true'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `perf record does not run here: ${r.stderr.trim().split('\n').pop()}`;
}

/** Hard-links Debian's split header trees (-common, then -amd64 over it) into one. */
function mergeHeaders(commonDir, archDir, merged) {
  rmSync(merged, { recursive: true, force: true });
  mkdirSync(merged, { recursive: true });
  // Hard links: no copy of the 90 MB tree. The arch tree overrides the common one.
  execFileSync('cp', ['-al', `${commonDir}/.`, `${merged}/`]);
  execFileSync('cp', ['-alf', '--remove-destination', `${archDir}/.`, `${merged}/`]);
}

/**
 * Fetches (apt-get download: no install, no dependencies) and unpacks the newest
 * linux-headers-*+debNN-amd64 and its -common into cacheDir; returns the merged
 * tree or throws. Installing them instead pulls in a kernel image, initramfs-tools
 * and systemd from backports, which a benchmark has no business changing.
 */
function fetchHeaders(cacheDir) {
  const names = execFileSync('apt-cache', ['pkgnames', 'linux-headers-'], { encoding: 'utf8' })
    .split('\n').filter((n) => /^linux-headers-\d+\.\d+\.\d+\+deb\d+-amd64$/.test(n));
  const pkg = names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
  if (!pkg) throw new Error('apt-cache knows no linux-headers-*-amd64 package (apt-get update, with bookworm-backports)');
  const common = pkg.replace(/-amd64$/, '-common');
  const debs = join(cacheDir, 'debs');
  mkdirSync(debs, { recursive: true });
  process.stderr.write(`bench: BCC needs kernel headers and ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()} has none; ` +
    `fetching ${pkg} and ${common} (not installing them) into ${debs}\n`);
  execFileSync('apt-get', ['download', pkg, common], { cwd: debs, stdio: ['ignore', 'ignore', 'pipe'] });
  const x = join(debs, 'x');
  for (const f of readdirSync(debs).filter((d) => d.endsWith('.deb'))) execFileSync('dpkg', ['-x', join(debs, f), x]);
  const merged = join(cacheDir, `kernel-headers-${pkg.slice('linux-headers-'.length)}-merged`);
  mergeHeaders(join(x, 'usr/src', common), join(x, 'usr/src', pkg), merged);
  rmSync(debs, { recursive: true, force: true });
  return merged;
}

/**
 * BCC needs kernel headers at run time. This kernel (6.18) has no Debian headers
 * package, so point BCC_KERNEL_SOURCE at a merged linux-headers tree of another
 * version (Debian splits it in -common and -amd64; BCC wants one tree). Uprobes
 * use no kernel structs, so a nearby version compiles the same program.
 * Order: $BCC_KERNEL_SOURCE; the running kernel's own; a tree merged earlier in
 * cacheDir; installed /usr/src headers; else fetched ones. Returns { env } or { missing }.
 */
export function bccEnv(cacheDir) {
  if (spawnSync('/usr/bin/python3', ['-c', 'import bcc']).status !== 0) {
    return { missing: 'python3-bpfcc is not installed: apt-get install -y --no-remove python3-bpfcc bpfcc-tools' };
  }
  if (process.env.BCC_KERNEL_SOURCE) return { env: { BCC_KERNEL_SOURCE: process.env.BCC_KERNEL_SOURCE } };
  const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  if (existsSync(`/lib/modules/${release}/build`) || existsSync('/sys/kernel/kheaders.tar.xz')) return { env: {} };
  const done = readdirSync(cacheDir).filter((d) => /^kernel-headers-.*-merged$/.test(d) && existsSync(join(cacheDir, d, 'include/linux/kconfig.h'))).sort().pop();
  if (done) return { env: { BCC_KERNEL_SOURCE: join(cacheDir, done) } };
  const src = '/usr/src';
  const amd64 = existsSync(src) ? readdirSync(src).filter((d) => /^linux-headers-.*-amd64$/.test(d) && !/-rt-|cloud/.test(d)).sort().pop() : undefined;
  if (amd64 && existsSync(join(src, amd64.replace(/-amd64$/, '-common')))) {
    const merged = join(cacheDir, `kernel-headers-${amd64.slice('linux-headers-'.length)}-merged`);
    mergeHeaders(join(src, amd64.replace(/-amd64$/, '-common')), join(src, amd64), merged);
    return { env: { BCC_KERNEL_SOURCE: merged } };
  }
  try {
    return { env: { BCC_KERNEL_SOURCE: fetchHeaders(cacheDir) } };
  } catch (e) {
    return { missing: `no kernel headers for ${release} (no package exists) and none could be fetched: ${String(e.message).split('\n')[0]}; set BCC_KERNEL_SOURCE to a merged linux-headers tree` };
  }
}
