#!/usr/bin/env node
// Prints the bpftrace script bench/compare.mjs runs for an engine binary: the
// probes `profinferd probes` plans there, call sites moved to the callee's entry
// (see bpftraceScript in bench/lib/tracers.mjs for why). Run it yourself with:
//   node bench/tracers/print_bpftrace.mjs BIN > node_probes.bt
//   bpftrace -o events.csv node_probes.bt -c 'BIN ARGS...'
import '../lib/one_line_errors.mjs';
import { requireProfinferd } from '../lib/engine.mjs';
import { probePlan } from '../lib/probe_plan.mjs';
import { bpftraceScript } from '../lib/tracers.mjs';

const [bin, level = 'node'] = process.argv.slice(2);
if (!bin || bin === '--help') {
  console.log('node bench/tracers/print_bpftrace.mjs ENGINE_BINARY [token|graph|node]');
  process.exit(bin ? 0 : 2);
}
process.stdout.write(bpftraceScript(probePlan(requireProfinferd(), bin, level)));
