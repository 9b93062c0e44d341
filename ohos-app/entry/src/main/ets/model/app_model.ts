// app_model.ts: everything the pages show and do, without the views: the
// connection, the dashboard, the session and trace lists, and the actions.
// The pages poll refresh() about once a second while in the foreground.
import { ControlClient, ControlRequestError } from '../protocol/control_client';
import { TraceLevel } from '../protocol/messages';
import { Connection, ConnectionState } from './connection';
import { SessionRow, TraceRow, sessionRows, traceRows } from './lists';
import { QosState } from './qos_state';
import { buildSessionRequest } from './session_form';

export class AppModel {
  readonly connection: Connection;
  readonly qos: QosState = new QosState();
  sessions: SessionRow[] = [];
  traces: TraceRow[] = [];
  /** The outcome of the last action, for a one-line message. */
  message: string = '';
  private inFlight: Promise<boolean> | undefined = undefined;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  /**
   * Polls Status (sessions, QoS) and the trace list. false when not connected
   * or it failed. Calls are serialized: a refresh right after an action waits
   * for a poll in flight and then asks again, so it sees the action's effect.
   */
  async refresh(): Promise<boolean> {
    const prev = this.inFlight;
    if (prev !== undefined) {
      await prev;
    }
    const p = this.fetchAll();
    this.inFlight = p;
    try {
      return await p;
    } finally {
      if (this.inFlight === p) {
        this.inFlight = undefined;
      }
    }
  }

  private async fetchAll(): Promise<boolean> {
    const c = this.connection.client();
    if (c === undefined) {
      return false;
    }
    try {
      const status = await c.status();
      this.qos.update(status);
      this.sessions = sessionRows(status);
      this.traces = traceRows(await c.listTraces());
      return true;
    } catch (e) {
      this.message = (e as Error).message;
      return false;
    }
  }

  /** Starts a session from the form's text; the message says what happened. */
  async start(target: string, level: TraceLevel, counters: string, structure: boolean, sched: boolean): Promise<boolean> {
    const req = buildSessionRequest(target, level, counters, structure, sched);
    if (req.error.length > 0) {
      this.message = req.error;
      return false;
    }
    const c = this.need();
    if (c === undefined) {
      return false;
    }
    try {
      const s = await c.startSession(req.pid, req.processName, req.config);
      this.qos.focus(s.sessionId);
      this.message = req.pid > 0 ? `session ${s.sessionId} recording pid ${req.pid}` :
        `session ${s.sessionId} waiting for a process named ${req.processName}`;
      await this.refresh();
      return true;
    } catch (e) {
      this.message = `cannot start: ${(e as Error).message}`;
      return false;
    }
  }

  async stop(sessionId: string): Promise<boolean> {
    return this.act(`session ${sessionId} stopped`, 'cannot stop', (c: ControlClient) => c.stopSession(sessionId));
  }

  async setLevel(sessionId: string, level: TraceLevel): Promise<boolean> {
    return this.act(`session ${sessionId}: level changed`, 'cannot change the level',
      (c: ControlClient) => c.setLevel(sessionId, level));
  }

  async deleteTrace(traceId: string): Promise<boolean> {
    return this.act(`trace ${traceId} deleted`, 'cannot delete', (c: ControlClient) => c.deleteTrace(traceId));
  }

  /** Marks a trace for the next `profinfer-host pull` (or clears the mark). */
  async markTrace(traceId: string, marked: boolean): Promise<boolean> {
    return this.act(marked ? `trace ${traceId} marked for the next pull` : `trace ${traceId} unmarked`,
      'cannot mark', (c: ControlClient) => c.markTrace(traceId, marked));
  }

  private async act(done: string, failed: string, f: (c: ControlClient) => Promise<void>): Promise<boolean> {
    const c = this.need();
    if (c === undefined) {
      return false;
    }
    try {
      await f(c);
      this.message = done;
      await this.refresh();
      return true;
    } catch (e) {
      this.message = e instanceof ControlRequestError ? `${failed}: ${e.message}` : `${failed}: ${(e as Error).message}`;
      return false;
    }
  }

  private need(): ControlClient | undefined {
    const c = this.connection.client();
    if (c === undefined) {
      this.message = this.connection.state === ConnectionState.CONNECTED ? 'not connected' :
        `not connected: ${this.connection.detail}`;
    }
    return c;
  }
}
