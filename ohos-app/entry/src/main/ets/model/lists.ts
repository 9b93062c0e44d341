// lists.ts: the rows of the Sessions and Traces pages, from Status and
// TraceList replies, with the text each row shows.
import { SessionStatusMsg, TraceEntryMsg, levelName } from '../protocol/messages';
import { describeTarget } from './qos_state';
import { formatBytes, formatDuration } from './format';

export class SessionRow {
  sessionId: string = '';
  traceId: string = '';
  target: string = '';
  state: string = '';
  level: string = '';
  written: string = '';
  stoppable: boolean = false;
}

export function sessionRows(sessions: SessionStatusMsg[]): SessionRow[] {
  const rows: SessionRow[] = [];
  for (const s of sessions) {
    const r = new SessionRow();
    r.sessionId = s.sessionId;
    r.traceId = s.traceId;
    r.target = describeTarget(s);
    r.state = s.state;
    r.level = levelName(s.level);
    r.written = formatBytes(s.bytesWritten);
    r.stoppable = s.state === 'running' || s.state === 'waiting';
    rows.push(r);
  }
  return rows;
}

export class TraceRow {
  traceId: string = '';
  target: string = '';
  size: string = '';
  duration: string = '';
  status: string = '';
  marked: boolean = false;
  /** A running trace cannot be deleted (profinferd answers BUSY). */
  deletable: boolean = false;
  startUnixNs: number = 0;
}

/** Newest first. */
export function traceRows(traces: TraceEntryMsg[]): TraceRow[] {
  const rows: TraceRow[] = [];
  for (const t of traces) {
    const r = new TraceRow();
    r.traceId = t.traceId;
    r.target = t.target.length > 0 ? t.target : '-';
    r.size = formatBytes(t.sizeBytes);
    r.duration = t.endUnixNs === 0 ? 'running' :
      (t.endUnixNs >= t.startUnixNs ? formatDuration((t.endUnixNs - t.startUnixNs) / 1e9) : '-');
    r.status = t.status;
    r.marked = t.markedForPull;
    r.deletable = t.status !== 'running';
    r.startUnixNs = t.startUnixNs;
    rows.push(r);
  }
  rows.sort((a: TraceRow, b: TraceRow) => b.startUnixNs - a.startUnixNs);
  return rows;
}
