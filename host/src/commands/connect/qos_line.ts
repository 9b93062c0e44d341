// qos_line.ts: one line of live QoS for the terminal (connect), from a
// session's status. Values the service has not measured yet print as "-".
import { TraceLevel, longToBigInt, type v1 } from '../../proto.js';

const num = (v: number | null | undefined, digits: number, unit = ''): string =>
  v === null || v === undefined || !Number.isFinite(v) || v === 0 ? '-' : `${v.toFixed(digits)}${unit}`;

export function levelName(l: v1.TraceLevel | null | undefined): string {
  return l ? (TraceLevel[l] ?? String(l)).replace(/^TRACE_LEVEL_/, '').toLowerCase() : '-';
}

export function qosLine(s: v1.ISessionStatus, receivedBytes: number): string {
  const q = s.qos ?? {};
  return [
    `${s.state ?? '?'}`,
    `${num(q.tokensPerS, 1)} tok/s`,
    `TTFT ${num(q.ttftMs, 1, ' ms')}`,
    `TPOT ${num(q.tpotMs, 2, ' ms')}`,
    `level ${levelName(q.level ?? s.level)}`,
    `${num(q.eventsPerS, 0)} events/s`,
    `lost ${longToBigInt(s.lostEvents ?? q.lostEvents ?? 0)}`,
    `${(receivedBytes / 1024).toFixed(0)} KiB received`,
  ].join('  ');
}
