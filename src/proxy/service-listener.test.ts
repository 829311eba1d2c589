import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from './endpoint.ts';
import { ServiceListener } from './service-listener.ts';

const HOST = '127.0.0.1';
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A backend that greets each connection with `<id>\n` and then echoes what it reads. */
async function backend(id: string): Promise<Endpoint & { server: net.Server; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(`${id}\n`);
    s.pipe(s);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { id, host: HOST, port: (server.address() as net.AddressInfo).port, server, sockets };
}

/** A port nothing listens on: connects are refused. */
async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, HOST);
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A listener whose accept queue is full, so that further connects hang (their SYN is dropped).
 * Python's, because a Node server always accepts: only a socket that listens and never accepts
 * makes a connect time out on loopback.
 */
async function blackHole(): Promise<number> {
  const py = 'import socket,time\ns=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(0)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(120)';
  const child: ChildProcess = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill());
  const spawnFailed = once(child, 'error').then(([e]) => {
    throw new Error(`Cannot make a listener that never accepts: python3 did not start (${(e as Error).message}); install python3`);
  });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), spawnFailed])) as [Buffer];
  const port = Number(line.toString().trim());
  // One connection fills the queue of a backlog-0 listener.
  const filler = net.connect(port, HOST);
  await once(filler, 'connect');
  cleanups.push(() => filler.destroy());
  return port;
}

/** A client connection through the listener and the id of the backend that greeted it. */
async function open(port: number): Promise<{ socket: net.Socket; id: string }> {
  const socket = net.connect(port, HOST);
  socket.setEncoding('utf8');
  let buffer = '';
  const id = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: string): void => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        socket.off('data', onData);
        resolve(buffer.slice(0, nl));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the greeting')));
  });
  return { socket, id };
}

async function listener(endpoints: Endpoint[], options: Partial<ConstructorParameters<typeof ServiceListener>[0]> = {}): Promise<{ l: ServiceListener; port: number }> {
  const l = new ServiceListener({ host: HOST, ...options });
  l.setEndpoints(endpoints);
  const { port } = await l.listen();
  cleanups.push(() => l.close());
  return { l, port };
}

function count(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1;
  return out;
}

test('a listener needs an address to bind: none is chosen for the caller', () => {
  assert.throws(() => new ServiceListener({ host: '' }), /no host given/);
});

test('round robin spreads connections evenly over the endpoints', async () => {
  const { port } = await listener([await backend('a'), await backend('b'), await backend('c')]);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const { socket, id } = await open(port);
    ids.push(id);
    socket.destroy();
  }
  assert.deepEqual(count(ids), { a: 10, b: 10, c: 10 });
});

test('least connections sends new connections to the endpoint that holds the fewest', async () => {
  const a = await backend('a');
  const b = await backend('b');
  const { port } = await listener([a, b], { policy: 'least-connections' });
  const held = await Promise.all([open(port), open(port), open(port), open(port)]);
  assert.deepEqual(count(held.map((h) => h.id)), { a: 2, b: 2 });
  for (const h of held.filter((h) => h.id === 'a')) h.socket.destroy();
  await sleep(50);
  const next = [await open(port), await open(port)];
  assert.deepEqual(next.map((n) => n.id), ['a', 'a']);
  for (const h of [...held, ...next]) h.socket.destroy();
});

test('bytes flow both ways and a half-close is passed on: the client ends, the answer still arrives', async () => {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanups.push(() => server.close());
  const { port } = await listener([{ id: 'h', host: HOST, port: (server.address() as net.AddressInfo).port }]);
  const socket = net.connect({ port, host: HOST, allowHalfOpen: true });
  const payload = Buffer.alloc(4 * 1024 * 1024, 7);
  socket.end(payload);
  const answer: Buffer[] = [];
  socket.on('data', (c) => answer.push(c));
  await once(socket, 'end');
  assert.equal(Buffer.concat(answer).toString(), `got ${payload.length} bytes`);
});

test('a connect that times out is retried on another endpoint', async () => {
  const slow = { id: 'slow', host: HOST, port: await blackHole() };
  const good = await backend('good');
  const { l, port } = await listener([slow, good], { connectTimeoutMs: 150, retries: 1 });
  const started = Date.now();
  const ids = [(await open(port)).id, (await open(port)).id];
  assert.deepEqual(ids, ['good', 'good']);
  assert.ok(Date.now() - started < 1500, 'the timeout, not the kernel, gave up');
  assert.equal(l.stats().failedConnects, 2, 'round robin tried the slow one again for the second');
});

test('an endpoint that refuses connects is ejected, gets no traffic, and returns after the ejection time', async () => {
  let now = 0;
  const dead = { id: 'dead', host: HOST, port: await closedPort() };
  const good = await backend('good');
  const { l, port } = await listener([dead, good], { retries: 1, outlier: { consecutiveFailures: 2, baseEjectionMs: 10_000 }, clock: { now: () => now } });
  for (let i = 0; i < 10; i++) assert.equal((await open(port)).id, 'good', 'a refused connect is retried on the live endpoint');
  assert.equal(l.stats().failedConnects, 2, 'two failures ejected it; it was not tried again');
  assert.equal(l.stats().ejections, 1);
  assert.ok(l.stats().endpoints.find((e) => e.endpoint.id === 'dead')!.ejectedUntil);
  now += 10_000;
  await open(port);
  await open(port);
  assert.ok(l.stats().failedConnects >= 3, 'back in the rotation after the ejection time');
});

test('no endpoint, or none reachable: the client is closed, not left waiting', async () => {
  const { l, port } = await listener([]);
  const socket = net.connect(port, HOST);
  socket.on('error', () => {});
  await once(socket, 'close');
  l.setEndpoints([{ id: 'x', host: HOST, port: await closedPort() }]);
  const again = net.connect(port, HOST);
  again.on('error', () => {});
  await once(again, 'close');
  assert.equal(l.stats().refused, 2);
});

test('removing an endpoint closes its connections while the others keep flowing', { timeout: 10_000 }, async () => {
  const a = await backend('a');
  const b = await backend('b');
  const { l, port } = await listener([a, b]);
  const held = await Promise.all([open(port), open(port), open(port), open(port)]);
  const onA = held.filter((h) => h.id === 'a');
  const onB = held.filter((h) => h.id === 'b');
  const closed = onB.map((h) => once(h.socket, 'close'));
  l.setEndpoints([a]);
  await Promise.all(closed);
  for (const h of onA) {
    h.socket.write('still here\n');
    const [echo] = await once(h.socket, 'data');
    assert.equal(echo, 'still here\n');
  }
  assert.equal((await open(port)).id, 'a');
  assert.equal(b.sockets.size, 0, 'the backend side of the removed endpoint is closed too');
  for (const h of held) h.socket.destroy();
  assert.equal(l.stats().endpoints.length, 1);
});

test('changing endpoints under load drops no connection to an endpoint that stays', async () => {
  const a = await backend('a');
  const b = await backend('b');
  const c = await backend('c');
  const { l, port } = await listener([a, b]);
  let stop = false;
  const failures: string[] = [];
  let done = 0;
  let closedEarly = 0;
  let acceptedByC = 0;
  c.server.on('connection', () => acceptedByC++);
  const worker = async (): Promise<void> => {
    while (!stop) {
      const opened = await open(port).catch(() => undefined);
      if (!opened) {
        // Closed before its greeting: only a connection to c, removed meanwhile, may be.
        closedEarly++;
        continue;
      }
      const { socket, id } = opened;
      const payload = 'x'.repeat(20_000);
      let got = '';
      socket.write(payload);
      const ok = await new Promise<boolean>((resolve) => {
        socket.on('data', (d: string) => {
          got += d;
          if (got.length >= payload.length) resolve(true);
        });
        socket.once('close', () => resolve(false));
      });
      socket.destroy();
      if (ok) done++;
      else if (id !== 'c') failures.push(id);
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  for (let i = 0; i < 20; i++) {
    l.setEndpoints(i % 2 ? [a, b] : [b, a, c]);
    await sleep(15);
  }
  stop = true;
  await Promise.all(workers);
  assert.deepEqual(failures, []);
  assert.ok(closedEarly <= acceptedByC, `${closedEarly} closed early, c took ${acceptedByC}`);
  assert.ok(done > 20, `connections completed (${done})`);
  assert.equal(l.stats().refused, 0);
  assert.equal(l.stats().failedConnects, 0);
});

test('a backend that resets closes the client too', async () => {
  const server = net.createServer((s) => s.resetAndDestroy());
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanups.push(() => server.close());
  const { l, port } = await listener([{ id: 'r', host: HOST, port: (server.address() as net.AddressInfo).port }]);
  const socket = net.connect(port, HOST);
  socket.on('error', () => {});
  await once(socket, 'close');
  await sleep(10);
  assert.equal(l.stats().active, 0);
  assert.equal(l.stats().total, 1);
});
