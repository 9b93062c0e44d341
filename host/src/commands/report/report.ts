// Reads a trace, runs every analysis and writes the HTML report.
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { analyzeModel } from '../../analysis/analysis_set.js';
import { renderReport, reportFacts } from '../../report/html_report.js';
import { loadAnalyzableModel, parsePeaks } from '../analyze/analyze.js';
import type { ReportArgs } from './command.js';

export function defaultReportPath(trace: string): string {
  return trace.replace(/\.(pftrace|profinfer|trace)$/, '') + '.html';
}

export async function reportCommand(args: ReportArgs): Promise<number> {
  const peaks = args.peaks === undefined ? undefined : parsePeaks(args.peaks);
  const a = analyzeModel(await loadAnalyzableModel(args.trace), { peaks });
  const input = { title: basename(args.trace), ...a, top: args.top };
  const html = renderReport(input);
  const out = args.output ?? defaultReportPath(args.trace);
  await writeFile(out, html);
  const facts = reportFacts(input);
  if (args.json) process.stdout.write(JSON.stringify({ report: out, bytes: Buffer.byteLength(html), ...facts }, null, 2) + '\n');
  else process.stdout.write(`wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB): ${facts.tokensPerS} tokens/s, TTFT ${facts.ttftMs} ms, TPOT ${facts.tpotMs} ms\n  open it in a browser; it needs no network\n`);
  return 0;
}
