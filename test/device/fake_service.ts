// A stand-in for a profinferd of another release: it speaks the real framing
// and messages (host/src/device/control_frame.ts, proto) but answers Hello
// with another control protocol version. Only for the version-mismatch test:
// this profinferd does not exist yet.
import { createServer, type Server } from 'node:net';
import { FrameSplitter, MAX_CLIENT_FRAME_BYTES, encodeFrame } from '../../host/src/device/control_frame.js';
import { ClientMessage, ServerMessage } from '../../host/src/proto.js';

export function startOtherVersionService(protocolVersion: number): Promise<{ server: Server; port: number }> {
  const server = createServer((sock) => {
    const splitter = new FrameSplitter(MAX_CLIENT_FRAME_BYTES);
    sock.on('data', (d: Buffer) => {
      for (const body of splitter.push(d)) {
        const m = ClientMessage.decode(body);
        const reply = ServerMessage.create({ requestId: m.requestId, hello: { protocolVersion, serverVersion: '9.0.0', arch: 'x86_64' } });
        sock.write(encodeFrame(ServerMessage.encode(reply).finish()));
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}
