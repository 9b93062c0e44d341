// Reads both traces, compares their statistics, prints or writes the result.
import { writeFile } from 'node:fs/promises';
import { buildDags } from '../../analysis/dag.js';
import { diffLines, diffStats, diffToJson } from '../../analysis/diff.js';
import { computeStats, type TraceStats } from '../../analysis/stats.js';
import { renderDiff } from '../../report/html_diff.js';
import { loadAnalyzableModel } from '../analyze/analyze.js';
import type { DiffArgs } from './command.js';

async function statsOf(path: string): Promise<TraceStats> {
  const model = await loadAnalyzableModel(path);
  return computeStats(model, buildDags(model));
}

export async function diffCommand(args: DiffArgs): Promise<number> {
  const [a, b] = await Promise.all([statsOf(args.a), statsOf(args.b)]);
  const d = diffStats(a, b);
  const names = [args.a, args.b] as const;
  if (args.html !== undefined) await writeFile(args.html, renderDiff(d, names, args.top));
  if (args.json) process.stdout.write(JSON.stringify({ a: args.a, b: args.b, ...diffToJson(d), ...(args.html ? { html: args.html } : {}) }, null, 2) + '\n');
  else process.stdout.write(diffLines(d, names, args.top).join('\n') + (args.html ? `\n\nwrote ${args.html}\n` : '\n'));
  return 0;
}
