// Order statistics for paired benchmark rounds. Every comparison in bench/
// reports the median of per-round paired ratios and their interquartile range,
// never one absolute time (the machine is noisy; see BENCHMARKS.md).

/** Linear-interpolated quantile q in [0, 1] of a non-empty list. */
export function quantile(xs, q) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
}

export const median = (xs) => quantile(xs, 0.5);

/** Median and IQR of per-round slowdowns in %: 100 * (1 - with/base) of each round. */
export function pairedSlowdownPct(baseRates, withRates) {
  const d = baseRates.map((b, i) => 100 * (1 - withRates[i] / b)).filter(Number.isFinite);
  return { median: median(d), iqr: [quantile(d, 0.25), quantile(d, 0.75)], rounds: d.length };
}

/**
 * Time a tool adds per decoded token (µs), from paired rates (tokens/s): where
 * a competitor's slowdown nears 100 % the percentage saturates, the added time
 * does not.
 */
export function pairedAddedUsPerToken(baseRates, withRates) {
  const d = baseRates.map((b, i) => 1e6 / withRates[i] - 1e6 / b).filter(Number.isFinite);
  return { median: median(d), iqr: [quantile(d, 0.25), quantile(d, 0.75)], rounds: d.length };
}
