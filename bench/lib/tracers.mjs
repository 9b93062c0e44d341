// Every profiler bench/compare.mjs runs the same llama-bench command under: how
// to wrap the command, and how to read back what the tool itself says it
// recorded and lost (collect: events, nodeEvents — none for perf, which samples —
// lost, traceBytes). Each tool's CPU and RSS are watched in /proc by
// watched_run.mjs (BCC also reports its own), trace bytes are the output's size.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { libraryDefining } from './probe_plan.mjs';
import { bccEnv, bpftraceMissing, perfMissing } from './tools.mjs';

const benchDir = resolve(import.meta.dirname, '..');
const count = (text, re) => (text.match(re) ?? []).length;
/** Node events in a CSV tracer's output: one line per event, named by the plan's probe. */
const csvNodeEvents = (text) => count(text, /^node_\w+,/gm);

/**
 * The profinferd configurations issue 11 compares, each one step more than the
 * last: token + graph, + graph structure, every node on every thread, + the
 * scheduler, + counters (software ones: this VM has no hardware PMU), and node
 * level sampled on one llama_decode call in 8.
 */
export const PROFINFERD_CONFIGS = {
  token: ['--level', 'token'],
  graph: ['--level', 'graph', '--no-structure'],
  structure: ['--level', 'graph'],
  node: ['--level', 'node'],
  'node-two': ['--level', 'node', '--node-probes', 'two'],
  sched: ['--level', 'node', '--sched'],
  counters: ['--level', 'node', '--sched', '--counters', 'task-clock,page-faults,context-switches'],
  sampled: ['--level', 'node', '--sample-every', '8'],
};

/** profinferd in one configuration: its own summary line gives events, loss, CPU and RSS. */
function profinferdTracer(profinferd, config) {
  return {
    name: `profinferd-${config}`,
    missing: () => undefined,
    wrap: (cmd, dir) => ({
      argv: [profinferd, 'record', '-o', join(dir, 'run.pftrace'), ...PROFINFERD_CONFIGS[config], '--', ...cmd],
      files: { trace: join(dir, 'run.pftrace') },
    }),
    collect: (r, files) => {
      const m = /Recorded (\d+) tokens, (\d+) graphs, (\d+) node events .*; lost (\d+); .*peak RSS ([\d.]+) MB, CPU ([\d.]+) s/.exec(r.stderr);
      if (!m) throw new Error(`no profinferd summary in: ${r.stderr.slice(-800)}`);
      const sched = /, (\d+) scheduler events;/.exec(r.stderr);
      return {
        events: 2 * (+m[1] + +m[2]) + +m[3] + (sched ? +sched[1] : 0), nodeEvents: +m[3], lost: +m[4], traceBytes: statSync(files.trace).size,
        selfCpuS: +m[6], selfRssMB: +m[5],
      };
    },
  };
}

/**
 * bpftrace script with profinferd's probes. Debian's bpftrace 0.17 is built
 * without libbfd and refuses any probe inside a function ("Can't check if uprobe
 * is in proper place"), so a call-site probe becomes a probe at the callee's entry
 * (GOMP_barrier in libgomp for the OpenMP build, ggml_barrier for the pthread
 * one): the same hits per node and thread plus the callee's other callers. The
 * counter is still the caller's there: a callee-saved register not yet touched,
 * or the caller's stack slot, one return address (8 bytes) above the callee's sp.
 * Filtered to the target's pid.
 */
export function bpftraceScript(plan) {
  const lines = [];
  const seen = new Set();
  for (const p of plan.probes) {
    let where;
    // Function entries: profinferd may step over an endbr64 (+4); the same hit for bpftrace.
    // Paths are quoted: node-llama-cpp's contain '@', a map sigil to bpftrace.
    if (!p.callee && p.offset <= 4) where = `${p.ret ? 'uretprobe' : 'uprobe'}:"${p.binary}":${p.symbol}`;
    else if (p.callee) {
      const lib = libraryDefining(p.binary, p.callee) ?? p.binary;
      where = `uprobe:"${lib}":${p.callee}`;
    } else throw new Error(`bpftrace cannot probe ${p.symbol}+${p.offset} here (no offset support) and it is no call site`);
    if (seen.has(where)) continue;
    seen.add(where);
    let arg = '0';
    if (p.counterReg) arg = `reg("${p.counterReg}")`;
    else if (p.counterSlot) arg = `*(int32 *)uptr(reg("${p.counterSlot.reg.replace(/^r/, '')}") + ${p.counterSlot.offset + (p.callee ? 8 : 0)})`;
    lines.push(`${where} /pid == cpid/ { printf("${p.name},%d,%d,%llu,%d\\n", pid, tid, nsecs, ${arg}); }`);
  }
  return lines.join('\n') + '\n';
}

function bpftraceTracer(plan) {
  return {
    name: 'bpftrace',
    missing: bpftraceMissing,
    wrap: (cmd, dir) => {
      const script = join(dir, 'node_probes.bt');
      writeFileSync(script, bpftraceScript(plan));
      // bpftrace -c splits its command at spaces: a script that execs it keeps
      // arguments with spaces whole (and the pid bpftrace filters on).
      const run = join(dir, 'run.sh');
      writeFileSync(run, `exec ${cmd.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')}\n`, { mode: 0o755 });
      return { argv: ['bpftrace', '-o', join(dir, 'bpftrace.csv'), script, '-c', `/bin/sh ${run}`], files: { trace: join(dir, 'bpftrace.csv') } };
    },
    collect: (r, files) => {
      const text = readFileSync(files.trace, 'utf8');
      const lost = [...`${text}\n${r.stderr}\n${r.stdout}`.matchAll(/Lost (\d+) events/g)].reduce((s, m) => s + +m[1], 0);
      return { events: count(text, /^\w+,\d+,\d+,\d+,-?\d+$/gm), nodeEvents: csvNodeEvents(text), lost, traceBytes: statSync(files.trace).size };
    },
  };
}

function bccTracer(plan, cacheDir) {
  let env;
  return {
    name: 'bcc',
    missing: () => {
      const e = bccEnv(cacheDir);
      env = e.env;
      return e.missing;
    },
    wrap: (cmd, dir) => {
      writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
      return {
        argv: ['/usr/bin/python3', join(benchDir, 'tracers/bcc_tracer.py'), '--plan', join(dir, 'plan.json'),
          '--csv', join(dir, 'bcc.csv'), '--stats', join(dir, 'bcc.json'), '--', ...cmd],
        env: { ...process.env, ...env },
        files: { trace: join(dir, 'bcc.csv'), stats: join(dir, 'bcc.json') },
      };
    },
    collect: (r, files) => {
      const s = JSON.parse(readFileSync(files.stats, 'utf8'));
      for (const k of ['events', 'lost', 'cpu_s', 'peak_rss_mb']) {
        if (!Number.isFinite(s[k])) throw new Error(`bcc_tracer stats lack ${k}: ${JSON.stringify(s)}`);
      }
      return {
        events: s.events, nodeEvents: csvNodeEvents(readFileSync(files.trace, 'utf8')), lost: s.lost,
        traceBytes: statSync(files.trace).size, selfCpuS: s.cpu_s, selfRssMB: s.peak_rss_mb,
      };
    },
  };
}

/** perf sampling at ~1 kHz with call graphs (task-clock here: no hardware PMU). */
function perfTracer() {
  return {
    name: 'perf',
    missing: perfMissing,
    wrap: (cmd, dir) => ({ argv: ['perf', 'record', '-q', '-F', '1000', '-g', '-o', join(dir, 'perf.data'), '--', ...cmd], files: { trace: join(dir, 'perf.data') } }),
    collect: (r, files) => {
      const stats = execFileSync('perf', ['report', '-i', files.trace, '--stats'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const samples = /SAMPLE events:\s+(\d+)/.exec(stats);
      if (!samples) throw new Error(`perf report --stats shows no SAMPLE events: ${stats.slice(0, 400)}`);
      const lost = /LOST events:\s+(\d+)/.exec(stats);
      const lostSamples = /LOST_SAMPLES events:\s+(\d+)/.exec(stats);
      return { events: +samples[1], lost: (lost ? +lost[1] : 0) + (lostSamples ? +lostSamples[1] : 0), traceBytes: statSync(files.trace).size };
    },
  };
}

const TOOL_NAMES = [...Object.keys(PROFINFERD_CONFIGS).map((c) => `profinferd-${c}`), 'bcc', 'bpftrace', 'perf'];

/** Tracers by name: profinferd-<config> (PROFINFERD_CONFIGS), bcc, bpftrace, perf. */
export function makeTracer(name, { profinferd, plan, cacheDir }) {
  const config = name.startsWith('profinferd-') ? name.slice('profinferd-'.length) : undefined;
  if (config && Object.hasOwn(PROFINFERD_CONFIGS, config)) return profinferdTracer(profinferd, config);
  if (name === 'bpftrace') return bpftraceTracer(plan);
  if (name === 'bcc') return bccTracer(plan, cacheDir);
  if (name === 'perf') return perfTracer();
  throw new Error(`unknown tool '${name}': use ${TOOL_NAMES.join(', ')}`);
}
