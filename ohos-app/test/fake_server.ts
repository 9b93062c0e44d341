// fake_server.ts: an in-memory ControlSocket whose "server" decodes the app's
// frames with protobufjs from the real .proto and answers with protobufjs, so
// the state machine's tests do not trust the app's own codec both ways.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { CloseListener, ControlSocket, DataListener } from '../entry/src/main/ets/protocol/control_socket';
import { FrameSplitter, encodeFrame } from '../entry/src/main/ets/protocol/frame';

const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/profinfer/v1/profinfer.proto', import.meta.url)));
export const PbClient = root.lookupType('profinfer.v1.ClientMessage');
export const PbServer = root.lookupType('profinfer.v1.ServerMessage');

export type Request = Record<string, any> & { requestId: number; msg: string };
/** Answers one request: ServerMessage fields without requestId, or undefined for no answer. */
export type Handler = (req: Request) => Record<string, unknown> | undefined;

export class FakeSocket implements ControlSocket {
  private data: DataListener[] = [];
  private closes: CloseListener[] = [];
  private splitter = new FrameSplitter(65536);
  readonly requests: Request[] = [];
  open = false;

  constructor(
    private readonly handler: Handler,
    private readonly refuse: string | undefined = undefined,
  ) {}

  connect(): Promise<void> {
    if (this.refuse !== undefined) return Promise.reject(new Error(this.refuse));
    this.open = true;
    return Promise.resolve();
  }

  send(bytes: Uint8Array): Promise<void> {
    for (const b of this.splitter.push(bytes)) {
      const req = PbClient.toObject(PbClient.decode(b), { longs: Number, enums: Number, oneofs: true, defaults: true }) as Request;
      this.requests.push(req);
      const reply = this.handler(req);
      if (reply !== undefined) this.deliver({ requestId: req.requestId, ...reply });
    }
    return Promise.resolve();
  }

  /** Sends a ServerMessage to the app (split in two chunks to exercise reassembly). */
  deliver(obj: Record<string, unknown>): void {
    const frame = encodeFrame(PbServer.encode(PbServer.fromObject(obj)).finish());
    const cut = Math.floor(frame.length / 2);
    queueMicrotask(() => {
      for (const l of this.data) l(frame.slice(0, cut));
      for (const l of this.data) l(frame.slice(cut));
    });
  }

  /** The server side goes away. */
  hangUp(reason = ''): void {
    if (!this.open) return;
    this.open = false;
    for (const l of this.closes) l(reason);
  }

  onData(l: DataListener): void {
    this.data.push(l);
  }

  onClose(l: CloseListener): void {
    this.closes.push(l);
  }

  close(): void {
    this.open = false;
  }
}

export const GOOD_TOKEN = 'a1'.repeat(32);

/** A server that accepts GOOD_TOKEN with protocol 1, like profinferd's handle_hello. */
export function helloHandler(serverProtocol = 1): Handler {
  return (req) => {
    if (req.msg !== 'hello') return { status: { sessions: [] } };
    if (req.hello.protocolVersion !== 1) return { error: { code: 3, message: 'protocol version mismatch' } };
    if (req.hello.authToken !== GOOD_TOKEN) return { error: { code: 2, message: 'wrong auth token' } };
    return { hello: { protocolVersion: serverProtocol, serverVersion: '9.9.9', arch: 'aarch64' } };
  };
}
