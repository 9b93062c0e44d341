// node_socket.ts: the ControlSocket of ohos-app on node:net, so vitest runs
// the app's protocol client unchanged against a real `profinferd serve`. The
// device twin is entry/src/main/ets/net/TcpControlSocket.ets.
import { Socket } from 'node:net';
import type { CloseListener, ControlSocket, DataListener } from '../entry/src/main/ets/protocol/control_socket';

export class NodeControlSocket implements ControlSocket {
  private readonly socket = new Socket();
  private dataListeners: DataListener[] = [];
  private closeListeners: CloseListener[] = [];
  private connected = false;
  private closeReason = '';
  /** Every byte written, for tests that inspect what the app sent. */
  readonly sent: Uint8Array[] = [];

  constructor() {
    this.socket.on('data', (d: Buffer) => {
      const chunk = new Uint8Array(d.buffer, d.byteOffset, d.length);
      for (const l of this.dataListeners) l(chunk);
    });
    this.socket.on('error', (e) => {
      this.closeReason = e.message;
    });
    this.socket.on('close', () => {
      if (!this.connected) return;
      this.connected = false;
      for (const l of this.closeListeners) l(this.closeReason);
    });
  }

  connect(host: string, port: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        reject(new Error(`no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      this.socket.once('error', (e) => {
        clearTimeout(timer);
        if (!this.connected) reject(e);
      });
      this.socket.connect(port, host, () => {
        clearTimeout(timer);
        this.connected = true;
        resolve();
      });
    });
  }

  send(bytes: Uint8Array): Promise<void> {
    this.sent.push(bytes.slice());
    return new Promise<void>((resolve, reject) => {
      this.socket.write(bytes, (e) => (e ? reject(e) : resolve()));
    });
  }

  onData(listener: DataListener): void {
    this.dataListeners.push(listener);
  }

  onClose(listener: CloseListener): void {
    this.closeListeners.push(listener);
  }

  close(): void {
    this.socket.destroy();
  }
}
