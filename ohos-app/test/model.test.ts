// The pages' models: dashboard QoS with its sparkline, the session form, the
// session and trace rows, the token check.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from '../entry/src/main/ets/model/format';
import { sessionRows, traceRows } from '../entry/src/main/ets/model/lists';
import { HISTORY_SAMPLES, QosState } from '../entry/src/main/ets/model/qos_state';
import { buildSessionRequest } from '../entry/src/main/ets/model/session_form';
import { checkToken } from '../entry/src/main/ets/model/token';
import { QosSample, SessionStatusMsg, TraceEntryMsg, TraceLevel } from '../entry/src/main/ets/protocol/messages';

function session(id: string, state: string, q?: Partial<QosSample>): SessionStatusMsg {
  return Object.assign(new SessionStatusMsg(), {
    sessionId: id, state, targetName: 'llama-simple', targetPids: [42], level: TraceLevel.NODE, lostEvents: 1,
    qos: q ? Object.assign(new QosSample(), q) : undefined,
  });
}

describe('QosState', () => {
  it('shows the running session, dashes for what is not measured yet', () => {
    const s = new QosState();
    s.update([session('w', 'waiting'), session('r', 'running', { tsNs: 1, tokensPerS: 12.34, ttftMs: 0, tpotMs: 81.04, level: TraceLevel.GRAPH, eventsPerS: 5000.4, lostEvents: 7 })]);
    expect(s.view).toMatchObject({ sessionId: 'r', target: 'llama-simple (pid 42)', tokensPerS: '12.3', ttftMs: '-', tpotMs: '81.0', level: 'graph', eventsPerS: '5000', lost: '7', noSample: false });
    s.update([session('w', 'waiting', { tsNs: 5, tokensPerS: 0, eventsPerS: 0 })]);
    expect(s.view).toMatchObject({ sessionId: 'w', tokensPerS: '-', eventsPerS: '-', level: 'node', noSample: true });
    expect(s.samples()).toEqual([]);
    s.update([]);
    expect(s.view.sessionId).toBe('');
  });

  it('keeps one sparkline point per new sample, at most a minute of them', () => {
    const s = new QosState();
    s.focus('r');
    for (let i = 1; i <= HISTORY_SAMPLES + 10; i++) {
      s.update([session('r', 'running', { tsNs: i, tokensPerS: i })]);
      s.update([session('r', 'running', { tsNs: i, tokensPerS: i })]); // polled twice: same sample
    }
    expect(s.samples()).toHaveLength(HISTORY_SAMPLES);
    expect(s.samples()[0]).toBe(11);
    const d = s.sparklinePath(118, 40);
    expect(d.startsWith('M0.0 ')).toBe(true);
    expect(d.endsWith('L118.0 0.0')).toBe(true); // newest and largest: right edge, top
    expect(d.split('L')).toHaveLength(HISTORY_SAMPLES);
  });

  it('starts a new history when the followed session changes', () => {
    const s = new QosState();
    s.update([session('a', 'running', { tsNs: 1, tokensPerS: 5 })]);
    s.update([session('a', 'running', { tsNs: 2, tokensPerS: 6 })]);
    expect(s.sparklinePath(100, 10)).not.toBe('');
    s.focus('b');
    s.update([session('a', 'running', { tsNs: 3, tokensPerS: 6 }), session('b', 'running', { tsNs: 3, tokensPerS: 1 })]);
    expect(s.samples()).toEqual([1]);
    expect(s.sparklinePath(100, 10)).toBe('');
  });
});

describe('session form', () => {
  it('takes a pid or a name, a level and counters', () => {
    const byPid = buildSessionRequest(' 4242 ', TraceLevel.NODE, 'page-faults, raw:0x11  armv8:l3d_cache_refill', true, false);
    expect(byPid).toMatchObject({ pid: 4242, processName: '', error: '' });
    expect(byPid.config).toMatchObject({ level: TraceLevel.NODE, structure: true, sched: false, counters: ['page-faults', 'raw:0x11', 'armv8:l3d_cache_refill'] });
    expect(buildSessionRequest('llama-server', TraceLevel.TOKEN, '', false, true)).toMatchObject({ pid: 0, processName: 'llama-server', error: '' });
  });

  it('explains what is wrong', () => {
    expect(buildSessionRequest('', TraceLevel.NODE, '', false, false).error).toMatch(/pid or a process name/);
    expect(buildSessionRequest('0', TraceLevel.NODE, '', false, false).error).toMatch(/out of range/);
    expect(buildSessionRequest('99999999', TraceLevel.NODE, '', false, false).error).toMatch(/out of range/);
    expect(buildSessionRequest('/system/bin/x', TraceLevel.NODE, '', false, false).error).toMatch(/without a path/);
    expect(buildSessionRequest('x', TraceLevel.OFF, '', false, false).error).toMatch(/choose a level/);
    expect(buildSessionRequest('x', TraceLevel.NODE, 'cycles; rm -rf', false, false).error).toMatch(/"cycles;" is not a counter name/);
  });
});

describe('lists', () => {
  it('session rows say what can be stopped', () => {
    const rows = sessionRows([session('a', 'running'), Object.assign(session('b', 'stopped'), { bytesWritten: 3 * 1024 * 1024 })]);
    expect(rows.map((r) => [r.sessionId, r.stoppable, r.level])).toEqual([['a', true, 'node'], ['b', false, 'node']]);
    expect(rows[1].written).toBe('3.0 MiB');
  });

  it('trace rows: newest first, size, duration, running ones not deletable', () => {
    const t = (id: string, start: number, end: number, status: string, marked = false) =>
      Object.assign(new TraceEntryMsg(), { traceId: id, target: 'llama-simple', startUnixNs: start, endUnixNs: end, sizeBytes: 2048, status, markedForPull: marked });
    const rows = traceRows([t('old', 1e18, 1e18 + 65e9, 'complete', true), t('new', 2e18, 0, 'running')]);
    expect(rows.map((r) => [r.traceId, r.duration, r.size, r.deletable, r.marked])).toEqual([
      ['new', 'running', '2.0 KiB', false, false],
      ['old', '1 min 05 s', '2.0 KiB', true, true],
    ]);
  });

  it('formats', () => {
    expect([formatBytes(1023), formatBytes(5 * 1024 ** 3)]).toEqual(['1023 B', '5.00 GiB']);
    expect([formatDuration(0.25), formatDuration(12.34), formatDuration(7322), formatDuration(-1)]).toEqual(['250 ms', '12.3 s', '2 h 02 min', '-']);
  });
});

describe('token', () => {
  it('accepts 64 hex characters and explains anything else', () => {
    expect(checkToken(`  ${'0f'.repeat(32)}\n`)).toEqual({ token: '0f'.repeat(32), error: '' });
    expect(checkToken('').error).toMatch(/no token/);
    expect(checkToken('abc').error).toMatch(/64 hex characters; this text has 3/);
    expect(checkToken('g'.repeat(64)).error).toMatch(/64 hex/);
  });
});
