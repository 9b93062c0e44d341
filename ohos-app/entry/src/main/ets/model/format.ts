// format.ts: numbers as the app shows them. An unmeasured value is shown as
// a dash, never as 0.

export function formatBytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  if (n < 1024 * 1024) {
    return `${(n / 1024).toFixed(1)} KiB`;
  }
  if (n < 1024 * 1024 * 1024) {
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** A duration in seconds: "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 0 || !Number.isFinite(seconds)) {
    return '-';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = Math.floor(seconds % 60);
    return `${m} min ${s < 10 ? '0' : ''}${s} s`;
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${h} h ${m < 10 ? '0' : ''}${m} min`;
}

/** A rate or a time with `digits` decimals; '-' when not measured (undefined or not finite). */
export function formatNumber(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) {
    return '-';
  }
  return v.toFixed(digits);
}
