// The connection state machine (model/connection.ts) against a scripted
// server: every state the UI distinguishes, and reconnection on foreground.
import { describe, expect, it } from 'vitest';
import { Connection, ConnectionOptions, ConnectionState } from '../entry/src/main/ets/model/connection';
import { FakeSocket, GOOD_TOKEN, helloHandler, type Handler } from './fake_server';

function setup(handler: Handler, refuse?: () => string | undefined) {
  const sockets: FakeSocket[] = [];
  const conn = new Connection(() => {
    const s = new FakeSocket(handler, refuse?.());
    sockets.push(s);
    return s;
  }, Object.assign(new ConnectionOptions(), { timeoutMs: 2000 }));
  const states: ConnectionState[] = [];
  conn.onStateChange((s) => states.push(s));
  return { conn, sockets, states };
}

describe('Connection', () => {
  it('asks for a token before trying anything', async () => {
    const { conn, sockets } = setup(helloHandler());
    expect(await conn.connect()).toBe(ConnectionState.NO_TOKEN);
    expect(sockets).toHaveLength(0);
  });

  it('connects, authenticates with protocol 1 and the token', async () => {
    const { conn, sockets, states } = setup(helloHandler());
    conn.setToken(GOOD_TOKEN);
    expect(await conn.connect()).toBe(ConnectionState.CONNECTED);
    expect(states).toEqual([ConnectionState.CONNECTING, ConnectionState.CONNECTED]);
    expect(sockets[0].requests[0]).toMatchObject({ msg: 'hello', hello: { protocolVersion: 1, authToken: GOOD_TOKEN } });
    expect(conn.serverVersion).toBe('9.9.9');
    expect(await conn.client()!.status()).toEqual([]);
  });

  it('says "no service" when nothing listens', async () => {
    const { conn } = setup(helloHandler(), () => 'connect ECONNREFUSED 127.0.0.1:7420');
    conn.setToken(GOOD_TOKEN);
    expect(await conn.connect()).toBe(ConnectionState.NO_SERVICE);
    expect(conn.detail).toMatch(/no profinferd at 127\.0\.0\.1:7420 .*ECONNREFUSED.*profinferd serve/);
  });

  it('says "auth failed" for a wrong token', async () => {
    const { conn, sockets } = setup(helloHandler());
    conn.setToken('b2'.repeat(32));
    expect(await conn.connect()).toBe(ConnectionState.AUTH_FAILED);
    expect(conn.detail).toMatch(/unauthenticated: wrong auth token/);
    expect(sockets[0].open).toBe(false);
  });

  it('says "version mismatch" when the server refuses our version or answers with another', async () => {
    const a = setup(helloHandler());
    a.conn.setToken(GOOD_TOKEN);
    // @ts-expect-error reaching into the options to speak protocol 2
    a.conn.options.protocolVersion = 2;
    expect(await a.conn.connect()).toBe(ConnectionState.VERSION_MISMATCH);
    const b = setup(helloHandler(2));
    b.conn.setToken(GOOD_TOKEN);
    expect(await b.conn.connect()).toBe(ConnectionState.VERSION_MISMATCH);
    expect(b.conn.detail).toMatch(/speaks control protocol 2, this app 1/);
  });

  it('goes to "lost" when the server hangs up and reconnects on foreground', async () => {
    const { conn, sockets, states } = setup(helloHandler());
    conn.setToken(GOOD_TOKEN);
    await conn.connect();
    const pending = conn.client()!.request(Object.assign(new (await import('../entry/src/main/ets/protocol/messages')).ClientMessage(), { kind: 11, traceId: 'x' }));
    sockets[0].hangUp('connection reset');
    await expect(pending).rejects.toThrow(/connection reset/);
    expect(conn.state).toBe(ConnectionState.LOST);
    expect(conn.client()).toBeUndefined();
    expect(await conn.onForeground()).toBe(ConnectionState.CONNECTED);
    expect(sockets).toHaveLength(2);
    // Already connected: foreground does not reconnect again.
    expect(await conn.onForeground()).toBe(ConnectionState.CONNECTED);
    expect(sockets).toHaveLength(2);
    conn.onBackground();
    expect(conn.state).toBe(ConnectionState.IDLE);
    expect(sockets[1].open).toBe(false);
    expect(states.slice(-2)).toEqual([ConnectionState.CONNECTED, ConnectionState.IDLE]);
  });

  it('times out a request the server never answers', async () => {
    const { conn } = setup((req) => (req.msg === 'hello' ? helloHandler()(req) : undefined));
    // @ts-expect-error shorter timeout for the test
    conn.options.timeoutMs = 100;
    conn.setToken(GOOD_TOKEN);
    await conn.connect();
    await expect(conn.client()!.status()).rejects.toThrow(/no answer from profinferd within 100 ms/);
  });
});
