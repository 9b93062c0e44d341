// live_stream.ts: a session's trace from profinferd to a file, surviving
// dropped connections. Every chunk is written at its own offset, so after a
// reconnect the stream resumes from the byte the file has and the file ends
// up equal to the device's trace. A connection that stops answering (a cut
// USB or Wi-Fi link keeps no TCP reset coming) is found by the status polls
// that also feed the QoS line.
import { writeSync } from 'node:fs';
import { ControlConnectionError, ControlError, type ControlClient, type TraceStream } from '../../device/control_client.js';
import { ErrorCode, type v1 } from '../../proto.js';
import { DeviceError, DeviceExit } from '../../transport/device_errors.js';
import type { ServiceLink } from '../../transport/service_link.js';

export interface LiveStreamOptions {
  readonly link: ServiceLink;
  readonly sessionId: string;
  readonly traceId: string;
  /** Open for writing; chunks are written at their offsets. */
  readonly fd: number;
  readonly output: string;
  readonly retryForMs: number;
  readonly pollEveryMs: number;
  readonly onStatus: (s: v1.ISessionStatus, receivedBytes: number) => void;
  readonly log: (line: string) => void;
}

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 4000;
const RECONNECT_TIMEOUT_MS = 4000;

export class LiveStream {
  /** Bytes of the trace in the file: the offset a resumed stream starts at. */
  offset = 0;
  reconnects = 0;
  #stopRequested = false;
  #stopAcked = false;
  #aborted = false;
  #wake: (() => void) | undefined;

  constructor(readonly o: LiveStreamOptions) {}

  get stopRequested(): boolean {
    return this.#stopRequested;
  }

  /** Asks the service to stop the session; the stream then runs to the trace's end. */
  requestStop(): void {
    this.#stopRequested = true;
    this.#sendStop(this.o.link.client);
  }

  /** Gives up at once (the file keeps what arrived). */
  abort(): void {
    this.#aborted = true;
    this.#wake?.();
    this.o.link.client.destroy();
  }

  /** Resolves 'eof' at the end of the trace or 'aborted'; throws DeviceError when the link is lost for good. */
  async run(): Promise<'eof' | 'aborted'> {
    let lostAt: number | undefined;
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      if (this.#aborted) return 'aborted';
      const client = this.o.link.client;
      const polling = { on: true };
      try {
        const stream = await this.#open(client);
        lostAt = undefined;
        backoff = FIRST_BACKOFF_MS;
        if (this.#stopRequested && !this.#stopAcked) this.#sendStop(client);
        await Promise.race([stream.done, this.#poll(client, polling)]);
        return this.#aborted ? 'aborted' : 'eof';
      } catch (e) {
        polling.on = false; // the dead connection's status polls end here
        if (this.#aborted) return 'aborted';
        if (!(e instanceof ControlConnectionError)) throw e;
        client.destroy();
        lostAt ??= Date.now();
        this.o.log(`connection lost at byte ${this.offset} (${e.message}); retrying`);
        for (;;) {
          if (Date.now() - lostAt > this.o.retryForMs) {
            throw new DeviceError(
              DeviceExit.connectionLost,
              `${this.o.link.label} unreachable for ${Math.round(this.o.retryForMs / 1000)} s: ${this.o.output} has the first ${this.offset} bytes ` +
                `(readable up to its last whole packet); trace ${this.o.traceId} stays on the device: fetch it later with profinfer-host pull`,
              { cause: e },
            );
          }
          await this.#sleep(backoff);
          backoff = Math.min(2 * backoff, MAX_BACKOFF_MS);
          if (this.#aborted) return 'aborted';
          try {
            await this.o.link.reconnect(RECONNECT_TIMEOUT_MS);
          } catch (e2) {
            // A service that answers and refuses (token, version) will not change its mind.
            if (e2 instanceof DeviceError && e2.exitCode !== DeviceExit.serviceDown) throw e2;
            continue;
          }
          this.reconnects++;
          this.o.log(`reconnected; resuming at byte ${this.offset}`);
          break;
        }
      } finally {
        polling.on = false;
      }
    }
  }

  /** Subscribe from the offset we have; a session the service no longer runs is fetched as a stored trace. */
  async #open(client: ControlClient): Promise<TraceStream> {
    let stream: TraceStream;
    try {
      stream = await client.subscribe(this.o.sessionId, this.offset, false);
    } catch (e) {
      if (!(e instanceof ControlError && e.code === ErrorCode.ERROR_CODE_NOT_FOUND)) throw e;
      stream = await client.fetch(this.o.traceId, this.offset, false);
    }
    stream.onChunk((c) => {
      if (c.data.length) {
        let done = 0;
        while (done < c.data.length) done += writeSync(this.o.fd, c.data, done, c.data.length - done, c.offset + done);
      }
      this.offset = c.offset + c.data.length;
    });
    return stream;
  }

  /** Status every pollEveryMs: the QoS line, and the liveness check (a request that times out rejects). */
  async #poll(client: ControlClient, polling: { on: boolean }): Promise<never> {
    for (;;) {
      await this.#sleep(this.o.pollEveryMs);
      if (!polling.on) return new Promise<never>(() => undefined);
      const all = await client.status();
      const s = all.find((x) => x.sessionId === this.o.sessionId);
      if (s) this.o.onStatus(s, this.offset);
    }
  }

  #sendStop(client: ControlClient): void {
    client.stopSession(this.o.sessionId).then(
      () => (this.#stopAcked = true),
      (e: unknown) => {
        // Already over (the target exited): nothing to stop. A lost connection: resent after the reconnect.
        if (e instanceof ControlError) this.#stopAcked = true;
      },
    );
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
