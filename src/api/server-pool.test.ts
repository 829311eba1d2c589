import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBerthError } from '../model/index.ts';
import { BerthClient } from './client.ts';
import { ServerPool, parseAddresses } from './server-pool.ts';

/** A real HTTP server on a loopback port that counts the requests it got. */
interface TestServer {
  url: string;
  port: number;
  hits: string[];
  close(): Promise<void>;
}

async function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, port = 0): Promise<TestServer> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    hits,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const answering = (name: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => res.end(JSON.stringify({ from: name }));

/** A loopback URL nothing listens on (a server opened and closed again). */
async function deadUrl(): Promise<{ url: string; port: number }> {
  const s = await listen(() => undefined);
  await s.close();
  return { url: s.url, port: s.port };
}

describe('ServerPool', () => {
  const open: TestServer[] = [];
  after(() => Promise.all(open.map((s) => s.close())));
  const start = async (...args: Parameters<typeof listen>) => {
    const s = await listen(...args);
    open.push(s);
    return s;
  };

  it('splits an address setting into URLs, adding http:// and dropping repeats', () => {
    assert.deepEqual(parseAddresses(' 10.0.0.1:7460, http://10.0.0.2:7460/ ,,10.0.0.1:7460'), ['http://10.0.0.1:7460', 'http://10.0.0.2:7460']);
    assert.deepEqual(parseAddresses(['https://a:1', 'b:2,c:3']), ['https://a:1', 'http://b:2', 'http://c:3']);
  });

  it('goes on to the next server when one refuses connections, and keeps the one that answered', async () => {
    const dead = await deadUrl();
    const live = await start(answering('live'));
    const pool = new ServerPool(`${dead.url},${live.url}`);
    const res = await pool.fetch('/v1/jobs');
    assert.deepEqual(await res.json(), { from: 'live' });
    assert.equal(pool.current, live.url);
    // The first server comes back: requests stay with the one that answered.
    const back = await start(answering('back'), dead.port);
    assert.deepEqual(await (await pool.fetch('/v1/jobs')).json(), { from: 'live' });
    assert.equal(back.hits.length, 0);
  });

  it('names every address it tried when none answers', async () => {
    const a = await deadUrl();
    const b = await deadUrl();
    const pool = new ServerPool([a.url, b.url]);
    await assert.rejects(pool.fetch('/v1/jobs'), (err: Error) => {
      assert.ok(isBerthError(err, 'unavailable'), String(err));
      assert.match(err.message, /^Cannot reach any berth server: tried /);
      assert.ok(err.message.includes(`${a.url} (ECONNREFUSED)`), err.message);
      assert.ok(err.message.includes(`${b.url} (ECONNREFUSED)`), err.message);
      assert.match(err.message, /BERTH_ADDR/);
      return true;
    });
  });

  it('returns an HTTP error as it came, without sending the request to another server', async () => {
    const failing = await start((_req, res) => {
      res.statusCode = 500;
      res.end('{"error":{"code":"internal","message":"boom"}}');
    });
    const other = await start(answering('other'));
    const pool = new ServerPool([failing.url, other.url]);
    const res = await pool.fetch('/v1/jobs', { method: 'POST', body: '{}' });
    assert.equal(res.status, 500);
    assert.equal(other.hits.length, 0);
  });

  it('does not send a POST again after a server dropped the connection it had received it on', async () => {
    const dropping = await start((req) => req.socket.destroy());
    const other = await start(answering('other'));
    const pool = new ServerPool([dropping.url, other.url]);
    await assert.rejects(pool.fetch('/v1/jobs', { method: 'POST', body: '{}' }), (err: Error) => {
      assert.ok(isBerthError(err, 'unavailable'));
      assert.match(err.message, /POST \/v1\/jobs may or may not have been applied/);
      return true;
    });
    assert.deepEqual(dropping.hits, ['POST /v1/jobs']);
    assert.equal(other.hits.length, 0);
    // A PUT may be sent twice with the effect of once: it goes on to the next server.
    const res = await pool.fetch('/v1/kv/a', { method: 'PUT', body: 'x' });
    assert.deepEqual(await res.json(), { from: 'other' });
    assert.deepEqual(other.hits, ['PUT /v1/kv/a']);
  });

  it('sends an idempotent request answered 503 to the next server, and round again after a pause, until one answers', async () => {
    const busy = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.statusCode = 503;
      res.end('{"error":{"code":"unavailable","message":"no leader"}}');
    };
    const a = await start(busy);
    let answered = 0;
    const b = await start((req, res) => (++answered <= 2 ? busy(req, res) : answering('b')(req, res)));
    const pool = new ServerPool([a.url, b.url]);
    const res = await pool.fetch('/v1/kv/x', { method: 'PUT', body: '1' });
    assert.deepEqual(await res.json(), { from: 'b' });
    assert.equal(a.hits.length, 3, 'three rounds');
    assert.equal(pool.current, b.url);
    // A POST is not sent again: its 503 comes back as it came, from one server.
    const post = await new ServerPool([a.url, b.url]).fetch('/v1/jobs/x/dispatch', { method: 'POST', body: '{}' });
    assert.equal(post.status, 503);
    assert.equal(a.hits.length, 4);
    assert.equal(b.hits.length, 3);
  });

  it('gives up on busy answers after busyRetryMs and returns the last one', async () => {
    const a = await start((_req, res) => {
      res.statusCode = 504;
      res.end('{"error":{"code":"timeout","message":"etcd did not answer in time"}}');
    });
    const pool = new ServerPool(a.url, { busyRetryMs: 600 });
    const started = Date.now();
    const res = await pool.fetch('/v1/kv/x');
    assert.equal(res.status, 504);
    assert.match(await res.text(), /etcd did not answer/);
    assert.ok(a.hits.length >= 2 && a.hits.length <= 4, `${a.hits.length} tries`);
    assert.ok(Date.now() - started < 3_000);
  });

  it('goes on to the next server when one takes longer than the timeout', async () => {
    const hanging = await start(() => undefined);
    const other = await start(answering('other'));
    const pool = new ServerPool([hanging.url, other.url]);
    const started = Date.now();
    const res = await pool.fetch('/v1/nodes', { timeoutMs: 300 });
    assert.deepEqual(await res.json(), { from: 'other' });
    assert.ok(Date.now() - started < 5000);
    assert.equal(hanging.hits.length, 1);
  });

  it("stops at once when the caller's own signal aborts", async () => {
    const hanging = await start(() => undefined);
    const other = await start(answering('other'));
    const pool = new ServerPool([hanging.url, other.url]);
    await assert.rejects(pool.fetch('/v1/nodes', { signal: AbortSignal.timeout(200) }), (err: Error) => err.name === 'TimeoutError');
    assert.equal(other.hits.length, 0);
  });

  it('lets BerthClient fail over between the servers of a comma-separated address', async () => {
    const dead = await deadUrl();
    const live = await start((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('[]');
    });
    const client = new BerthClient({ address: `${dead.url},${live.url}` });
    assert.deepEqual((await client.listNodes()).value, []);
    assert.equal(client.address, live.url);
    const none = new BerthClient({ address: dead.url });
    await assert.rejects(none.listNodes(), /^BerthError: Cannot reach the berth server at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is it running\? set BERTH_ADDR to its address\)$/);
  });
});
