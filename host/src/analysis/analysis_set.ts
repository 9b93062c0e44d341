// analysis_set.ts: every analysis of one trace, computed once, for the
// commands that show them (analyze, report, diff).
import { availableParallelism } from 'node:os';
import { buildDags, type Dag } from './dag.js';
import { counterReport, type CounterReport } from './counters.js';
import { computeStats, type TraceStats } from './stats.js';
import { expertReport, type ExpertReport } from './experts.js';
import { measurePeaks, roofline, type Peaks, type Roofline } from './roofline.js';
import { analyzeSched, type SchedAnalysis } from './sched.js';
import type { TraceModel } from './trace_model.js';

export interface AnalysisSet {
  readonly model: TraceModel;
  readonly dags: readonly Dag[];
  readonly stats: TraceStats;
  readonly roofline: Roofline;
  readonly sched: SchedAnalysis;
  readonly counters: CounterReport;
  readonly experts: ExpertReport;
}

/** Peaks: given, or measured once per process by the built-in micro-benchmark. */
export function analyzeModel(model: TraceModel, o: { peaks?: Peaks; expertTable?: boolean } = {}): AnalysisSet {
  const dags = buildDags(model);
  return {
    model,
    dags,
    stats: computeStats(model, dags),
    roofline: roofline(dags, o.peaks ?? measurePeaks(availableParallelism())),
    sched: analyzeSched(model, { intervals: false }),
    counters: counterReport(model, dags),
    experts: expertReport(model, { table: o.expertTable ?? false }),
  };
}
