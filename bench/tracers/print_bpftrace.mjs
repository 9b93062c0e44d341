#!/usr/bin/env node
// Prints the bpftrace script bench/compare.mjs runs for an engine binary: the
// probes `profinferd probes` plans there, call sites moved to the callee's entry
// (see bpftraceScript in bench/lib/tracers.mjs for why). Run it yourself with:
//   node bench/tracers/print_bpftrace.mjs BIN [LIB...] [--level L] > node_probes.bt
//   bpftrace -o events.csv node_probes.bt -c 'BIN ARGS...'
import '../lib/one_line_errors.mjs';
import { requireProfinferd } from '../lib/engine.mjs';
import { probePlan } from '../lib/probe_plan.mjs';
import { bpftraceScript } from '../lib/tracers.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--level');
const level = at >= 0 ? args.splice(at, 2)[1] : 'node';
if (!args.length || args.includes('--help') || !['token', 'graph', 'node'].includes(level)) {
  console.log('node bench/tracers/print_bpftrace.mjs ENGINE_FILE... [--level token|graph|node]\n' +
    'ENGINE_FILE: the executable, and the libraries holding llama_decode / the GGML compute loop if shared');
  process.exit(args.includes('--help') ? 0 : 2);
}
process.stdout.write(bpftraceScript(probePlan(requireProfinferd(), args, level)));
