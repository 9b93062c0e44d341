// session_form.ts: the session-control form, validated before anything is
// sent: a pid of a running process, or a process name to wait for; a level;
// perf counters by name.
import { SessionConfigMsg, TraceLevel } from '../protocol/messages';

/** The kernel's pid_max limit (2^22). */
const MAX_PID: number = 4194304;
const MAX_NAME: number = 255;
const COUNTER_NAME: RegExp = new RegExp('^[A-Za-z0-9_.:-]{1,64}$');

export class SessionRequest {
  pid: number = 0;
  processName: string = '';
  config: SessionConfigMsg = new SessionConfigMsg();
  /** Non-empty: the form is invalid and this says why. */
  error: string = '';
}

export const LEVEL_CHOICES: TraceLevel[] = [TraceLevel.TOKEN, TraceLevel.GRAPH, TraceLevel.NODE];

/**
 * target: digits for a pid, anything else a process name to wait for.
 * counters: comma- or space-separated, e.g. "page-faults, raw:0x11".
 */
export function buildSessionRequest(target: string, level: TraceLevel, counters: string, structure: boolean,
  sched: boolean): SessionRequest {
  const r = new SessionRequest();
  const t = target.trim();
  if (t.length === 0) {
    r.error = 'enter a pid or a process name';
    return r;
  }
  if (new RegExp('^[0-9]+$').test(t)) {
    const pid = Number(t);
    if (pid < 1 || pid > MAX_PID) {
      r.error = `pid ${t} is out of range (1..${MAX_PID})`;
      return r;
    }
    r.pid = pid;
  } else {
    if (t.length > MAX_NAME || t.indexOf('/') >= 0) {
      r.error = 'a process name is its name (comm), without a path, up to 255 characters';
      return r;
    }
    r.processName = t;
  }
  if (level !== TraceLevel.TOKEN && level !== TraceLevel.GRAPH && level !== TraceLevel.NODE) {
    r.error = 'choose a level: token, graph or node';
    return r;
  }
  r.config.level = level;
  r.config.structure = structure;
  r.config.sched = sched;
  const names = counters.split(new RegExp('[,\\s]+')).filter((s: string) => s.length > 0);
  for (const n of names) {
    if (!COUNTER_NAME.test(n)) {
      r.error = `"${n}" is not a counter name (e.g. page-faults, cycles, raw:0x11)`;
      return r;
    }
  }
  r.config.counters = names;
  return r;
}
