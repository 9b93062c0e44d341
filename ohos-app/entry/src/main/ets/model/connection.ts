// connection.ts: the app's connection to profinferd as a state machine, with
// the states the UI must tell apart: no token yet, no service running, auth
// failed, version mismatch, connected, lost. The app calls onForeground() when
// it comes back (EntryAbility.onForeground) and onBackground() when it leaves.
import { ControlSocketFactory } from '../protocol/control_socket';
import { ConnectionLostError, ControlClient, ControlRequestError, VersionMismatchError } from '../protocol/control_client';
import { ErrorCode, PROTOCOL_VERSION } from '../protocol/messages';

export enum ConnectionState {
  /** Not connected and not trying (before the first connect, or in the background). */
  IDLE = 'idle',
  /** No auth token: the user must provide one. */
  NO_TOKEN = 'no-token',
  CONNECTING = 'connecting',
  CONNECTED = 'connected',
  /** Nothing listens at the address: `profinferd serve` is not running. */
  NO_SERVICE = 'no-service',
  /** profinferd refused the token. */
  AUTH_FAILED = 'auth-failed',
  /** profinferd speaks another control protocol version. */
  VERSION_MISMATCH = 'version-mismatch',
  /** Was connected; the connection ended (service stopped or restarted). */
  LOST = 'lost'
}

export class ConnectionOptions {
  host: string = '127.0.0.1';
  port: number = 7420;
  clientName: string = 'profinfer ohos-app';
  timeoutMs: number = 5000;
  /** Sent in Hello; tests set another value to see the mismatch state. */
  protocolVersion: number = PROTOCOL_VERSION;
}

export type StateListener = (state: ConnectionState, detail: string) => void;

export class Connection {
  private readonly factory: ControlSocketFactory;
  private readonly options: ConnectionOptions;
  private token: string = '';
  private current: ControlClient | undefined = undefined;
  private attempt: number = 0;
  private listeners: StateListener[] = [];
  state: ConnectionState = ConnectionState.IDLE;
  /** One line for the UI: what happened and what to do. */
  detail: string = '';
  serverVersion: string = '';
  deviceModel: string = '';

  constructor(factory: ControlSocketFactory, options: ConnectionOptions) {
    this.factory = factory;
    this.options = options;
  }

  onStateChange(l: StateListener): void {
    this.listeners.push(l);
  }

  setToken(token: string): void {
    this.token = token;
  }

  /** The authenticated client, while CONNECTED. */
  client(): ControlClient | undefined {
    return this.state === ConnectionState.CONNECTED ? this.current : undefined;
  }

  /** Connects and authenticates; resolves with the state reached (never rejects). */
  async connect(): Promise<ConnectionState> {
    this.dropClient();
    if (this.token.length === 0) {
      this.set(ConnectionState.NO_TOKEN, 'enter the auth token of profinferd (see the Connection tab)');
      return this.state;
    }
    const attempt = ++this.attempt;
    const where = `${this.options.host}:${this.options.port}`;
    this.set(ConnectionState.CONNECTING, `connecting to profinferd at ${where}`);
    const socket = this.factory();
    try {
      await socket.connect(this.options.host, this.options.port, this.options.timeoutMs);
    } catch (e) {
      if (attempt === this.attempt) {
        this.set(ConnectionState.NO_SERVICE, `no profinferd at ${where} (${(e as Error).message}): start it on the ` +
          'device with `profinferd serve`');
      }
      return this.state;
    }
    const client = new ControlClient(socket, this.options.timeoutMs);
    try {
      const hello = await client.authenticate(this.token, this.options.clientName, this.options.protocolVersion);
      if (attempt !== this.attempt) {
        client.close();
        return this.state;
      }
      this.current = client;
      this.serverVersion = hello.serverVersion;
      this.deviceModel = hello.deviceModel;
      client.onClosed((e: Error) => {
        if (this.current === client) {
          this.current = undefined;
          this.set(ConnectionState.LOST, `${e.message}; reconnecting when the app comes back to the foreground`);
        }
      });
      this.set(ConnectionState.CONNECTED, `profinferd ${hello.serverVersion} (${hello.arch}${hello.deviceModel.length > 0 ? ', ' + hello.deviceModel : ''})`);
    } catch (e) {
      client.close();
      if (attempt === this.attempt) {
        this.failed(e as Error);
      }
    }
    return this.state;
  }

  /** The app came back: reconnect unless connected (a fixed token or a restarted service may work now). */
  async onForeground(): Promise<ConnectionState> {
    if (this.state === ConnectionState.CONNECTED && this.current !== undefined && !this.current.isClosed()) {
      return this.state;
    }
    if (this.state === ConnectionState.CONNECTING) {
      return this.state;
    }
    return this.connect();
  }

  /** The app left the foreground: let the connection go (the system may freeze the app). */
  onBackground(): void {
    this.attempt++;
    this.dropClient();
    this.set(ConnectionState.IDLE, 'paused in the background');
  }

  private failed(e: Error): void {
    if (e instanceof VersionMismatchError) {
      this.set(ConnectionState.VERSION_MISMATCH, e.message);
    } else if (e instanceof ControlRequestError && e.code === ErrorCode.VERSION_MISMATCH) {
      this.set(ConnectionState.VERSION_MISMATCH, e.message);
    } else if (e instanceof ControlRequestError && e.code === ErrorCode.UNAUTHENTICATED) {
      this.set(ConnectionState.AUTH_FAILED, `${e.message} (paste the token again, or provision it: see README)`);
    } else if (e instanceof ConnectionLostError) {
      this.set(ConnectionState.NO_SERVICE, `${e.message}: is this profinferd serve's port?`);
    } else {
      this.set(ConnectionState.NO_SERVICE, e.message);
    }
  }

  private dropClient(): void {
    const c = this.current;
    this.current = undefined;
    if (c !== undefined) {
      c.close();
    }
  }

  private set(state: ConnectionState, detail: string): void {
    this.state = state;
    this.detail = detail;
    for (const l of this.listeners) {
      l(state, detail);
    }
  }
}
