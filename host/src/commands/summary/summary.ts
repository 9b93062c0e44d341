// Reads a trace packet by packet and prints its summary (model/summary.ts).
import { access } from 'node:fs/promises';
import { decodePacket } from '../../decode/packets.js';
import { readTraceFile, TraceReadError } from '../../decode/stream_reader.js';
import { SummaryBuilder, type TraceSummary } from '../../model/summary.js';
import type { SummaryArgs } from './command.js';

export async function loadSummary(path: string): Promise<{ summary: TraceSummary; warning?: string }> {
  await access(path).catch(() => {
    throw new Error(`cannot read ${path}: no such file (record one with profinferd record -o ${path} ...)`);
  });
  const builder = new SummaryBuilder();
  let warning: string | undefined;
  try {
    for await (const raw of readTraceFile(path)) builder.add(decodePacket(raw));
  } catch (err) {
    if (!(err instanceof TraceReadError)) throw err;
    builder.truncated = true;
    warning = `${err.message}; summarising the ${err.packetIndex} whole packets before it`;
  }
  const summary = builder.build();
  if (!summary.session_id && summary.tokens.length === 0 && summary.graphs === 0)
    throw new Error(`${path} is not a ProfInfer trace (no session, token or graph packets)`);
  return { summary, warning };
}

const ms = (v: number | undefined, digits = 2): string => (v === undefined ? '-' : v.toFixed(digits));

export async function summaryCommand(args: SummaryArgs): Promise<number> {
  const { summary: s, warning } = await loadSummary(args.trace);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  if (args.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    return 0;
  }
  const out: string[] = [];
  out.push(`${args.trace}: ${s.level} level, collector ${s.collector_version}, layout ${s.layout_profile}`);
  out.push(
    `  tokens   ${s.tokens.length} llama_decode calls: ${s.prefill_tokens} prompt tokens, ${s.decode_tokens} decoded`,
  );
  out.push(`  speed    TTFT ${ms(s.ttft_ms)} ms   TPOT ${ms(s.tpot_ms)} ms   ${ms(s.tokens_per_s, 1)} tokens/s`);
  out.push(
    `  graphs   ${s.graphs} (${s.graph_nodes} graph nodes, ${s.nodes} executed + ${s.fused_nodes} fused)`,
  );
  out.push(`  nodes    ${s.node_events} node events on ${s.threads} threads`);
  const lostKinds = Object.entries(s.lost_by_kind).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push(`  lost     ${s.lost_events}${lostKinds ? ` (${lostKinds})` : ''}${s.truncated ? '   [trace incomplete]' : ''}`);
  const values = s.counter_values_measured + s.counter_values_unmeasured;
  if (values > 0)
    out.push(`  counters ${s.counter_values_measured} of ${values} node values measured (the rest: thread switched out or moved CPU, or its first row)`);
  const ops = Object.entries(s.ops);
  const total = ops.reduce((sum, [, o]) => sum + o.total_ns, 0);
  if (ops.length) {
    out.push('', `  top operators (wall time: first start to last end across threads)`);
    out.push(`  ${'op'.padEnd(22)}${'count'.padStart(8)}${'total ms'.padStart(11)}${'share'.padStart(8)}${'barrier ms'.padStart(12)}`);
    for (const [name, o] of ops.slice(0, args.top)) {
      out.push(
        `  ${name.padEnd(22)}${String(o.count).padStart(8)}${(o.total_ns / 1e6).toFixed(2).padStart(11)}` +
          `${((100 * o.total_ns) / (total || 1)).toFixed(1).padStart(7)}%${(o.barrier_ns / 1e6).toFixed(2).padStart(12)}`,
      );
    }
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
