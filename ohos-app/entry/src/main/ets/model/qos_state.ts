// qos_state.ts: what the dashboard shows for one session, from the Status
// replies the app polls (profinferd sends QoS inside SessionStatus), plus a
// short tokens/s history for the sparkline.
import { QosSample, SessionStatusMsg, TraceLevel, levelName } from '../protocol/messages';
import { formatNumber } from './format';

/** How many samples the sparkline keeps (one a second: the last minute). */
export const HISTORY_SAMPLES: number = 60;

export class QosView {
  sessionId: string = '';
  target: string = '';
  state: string = '';
  tokensPerS: string = '-';
  ttftMs: string = '-';
  tpotMs: string = '-';
  level: string = '-';
  eventsPerS: string = '-';
  lost: string = '-';
  /** true when the session has no QoS sample yet (waiting for its process). */
  noSample: boolean = true;
}

export class QosState {
  private history: number[] = [];
  private lastTsNs: number = -1;
  private focused: string = '';
  view: QosView = new QosView();

  /** The session the dashboard follows; '' follows the first running one. */
  focus(sessionId: string): void {
    if (sessionId !== this.focused) {
      this.focused = sessionId;
      this.history = [];
      this.lastTsNs = -1;
    }
  }

  focusedSessionId(): string {
    return this.view.sessionId;
  }

  /** Takes one Status reply. */
  update(sessions: SessionStatusMsg[]): void {
    const s = this.pick(sessions);
    const v = new QosView();
    if (s === undefined) {
      this.view = v;
      return;
    }
    if (s.sessionId !== this.view.sessionId) {
      this.history = [];
      this.lastTsNs = -1;
    }
    v.sessionId = s.sessionId;
    v.target = describeTarget(s);
    v.state = s.state;
    v.level = levelName(s.level);
    v.lost = `${s.lostEvents}`;
    // A session still waiting for its process has measured nothing, whatever
    // sample profinferd attaches (it sends zeros): show dashes, not zeros.
    const q: QosSample | undefined = s.state === 'waiting' ? undefined : s.qos;
    if (q !== undefined) {
      v.noSample = false;
      v.tokensPerS = formatNumber(q.tokensPerS, 1);
      // 0 ms means "no token yet", not a measured zero.
      v.ttftMs = q.ttftMs > 0 ? formatNumber(q.ttftMs, 1) : '-';
      v.tpotMs = q.tpotMs > 0 ? formatNumber(q.tpotMs, 1) : '-';
      v.eventsPerS = formatNumber(q.eventsPerS, 0);
      if (q.level !== TraceLevel.UNSPECIFIED) {
        v.level = levelName(q.level);
      }
      v.lost = `${Math.max(q.lostEvents, s.lostEvents)}`;
      // One point per new sample: polling faster than the server samples adds nothing.
      if (q.tsNs !== this.lastTsNs) {
        this.lastTsNs = q.tsNs;
        this.history.push(q.tokensPerS);
        if (this.history.length > HISTORY_SAMPLES) {
          this.history.splice(0, this.history.length - HISTORY_SAMPLES);
        }
      }
    }
    this.view = v;
  }

  samples(): number[] {
    return this.history.slice();
  }

  /**
   * The sparkline as SVG path commands for ArkUI's Path().commands(), in a
   * width × height box (px): newest sample at the right, 0 at the bottom,
   * the largest sample at the top. '' with fewer than two samples.
   */
  sparklinePath(width: number, height: number): string {
    const h = this.history;
    if (h.length < 2) {
      return '';
    }
    let max = 0;
    for (const v of h) {
      if (v > max) {
        max = v;
      }
    }
    const scale = max > 0 ? height / max : 0;
    const step = width / (HISTORY_SAMPLES - 1);
    const x0 = width - step * (h.length - 1);
    let d = '';
    for (let i = 0; i < h.length; i++) {
      const x = x0 + step * i;
      const y = height - h[i] * scale;
      d += `${i === 0 ? 'M' : ' L'}${x.toFixed(1)} ${y.toFixed(1)}`;
    }
    return d;
  }

  private pick(sessions: SessionStatusMsg[]): SessionStatusMsg | undefined {
    if (this.focused.length > 0) {
      for (const s of sessions) {
        if (s.sessionId === this.focused) {
          return s;
        }
      }
    }
    for (const s of sessions) {
      if (s.state === 'running') {
        return s;
      }
    }
    for (const s of sessions) {
      if (s.state === 'waiting') {
        return s;
      }
    }
    return undefined;
  }
}

export function describeTarget(s: SessionStatusMsg): string {
  const pids = s.targetPids.length > 0 ? ` (pid ${s.targetPids.join(', ')})` : '';
  return `${s.targetName.length > 0 ? s.targetName : 'process'}${pids}`;
}
