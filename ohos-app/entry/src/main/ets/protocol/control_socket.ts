// control_socket.ts: the one thing the protocol client needs from a socket.
// On the device: net/TcpControlSocket.ets (@kit.NetworkKit TCPSocket). Under
// vitest: ohos-app/test/node_socket.ts (node:net). Keeping the client behind
// this interface is what lets the same client code run in both.

export type DataListener = (chunk: Uint8Array) => void;
/** `reason` is empty for an orderly close. */
export type CloseListener = (reason: string) => void;

export interface ControlSocket {
  /** Resolves once connected; rejects with a one-line reason (refused, timeout). */
  connect(host: string, port: number, timeoutMs: number): Promise<void>;
  send(bytes: Uint8Array): Promise<void>;
  onData(listener: DataListener): void;
  /** Called once, when the connection ends for any reason after connect(). */
  onClose(listener: CloseListener): void;
  close(): void;
}

/** Makes a fresh, unconnected socket: one per connection attempt. */
export type ControlSocketFactory = () => ControlSocket;
