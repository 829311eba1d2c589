import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it, type TestContext } from 'node:test';
import { serveDatagrams, type DatagramService } from './datagrams.ts';

/** An echo server on a free port: every datagram comes back upper-cased. */
async function echo(t: TestContext, publicApi: boolean): Promise<{ port: number; service: DatagramService; socket: dgram.Socket }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const service: DatagramService = serveDatagrams(socket, (msg, peer) => service.send(Buffer.from(msg.toString().toUpperCase()), peer.port, peer.address), { publicApi });
  // A test may have closed it already.
  t.after(() => new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  }));
  return { port: socket.address().port, service, socket };
}

/** Send `count` numbered datagrams, 32 in flight (no buffer overflows), and collect the replies. */
async function roundTrip(t: TestContext, port: number, count: number): Promise<Set<string>> {
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  const got = new Set<string>();
  let sent = 0;
  const next = (): void => {
    if (sent < count) client.send(`q${sent++}`, port, '127.0.0.1');
  };
  const all = new Promise<void>((resolve) => {
    client.on('message', (m) => {
      got.add(m.toString());
      if (got.size === count) resolve();
      next();
    });
  });
  for (let i = 0; i < 32; i++) next();
  await Promise.race([all, new Promise((r) => setTimeout(r, 5000))]);
  return got;
}

describe('serveDatagrams', () => {
  for (const publicApi of [false, true]) {
    it(`answers every datagram to its sender (${publicApi ? 'public dgram API' : 'native handle'})`, async (t) => {
      const { port, service } = await echo(t, publicApi);
      // Node 24 (as 20 did) exposes the handle this expects: the fast path is the one in use.
      assert.equal(service.direct, !publicApi);
      const got = await roundTrip(t, port, 1000);
      assert.equal(got.size, 1000);
      for (let i = 0; i < 1000; i++) assert.ok(got.has(`Q${i}`), `reply to q${i}`);
    });
  }

  it('a send on a closed socket is dropped, not thrown', async (t) => {
    const { service, socket } = await echo(t, false);
    socket.close();
    assert.doesNotThrow(() => service.send(Buffer.from('x'), 9, '127.0.0.1'));
  });
});
