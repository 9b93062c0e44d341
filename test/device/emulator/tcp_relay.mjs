// tcp_relay.mjs LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT: a TCP relay,
// one half of an emulated port forward (hdc fport / adb forward). Prints
// "listening PORT" once it listens, or "error CODE" and exits 1.
import { createServer, connect } from 'node:net';

const [listenHost, listenPort, targetHost, targetPort] = process.argv.slice(2);
const server = createServer((client) => {
  const upstream = connect(Number(targetPort), targetHost);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.on('error', (e) => {
  process.stdout.write(`error ${e.code ?? e.message}\n`);
  process.exit(1);
});
server.listen(Number(listenPort), listenHost, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.stdout.on('error', () => undefined);
