import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../testing/index.ts';
import { MemoryBackend, type StateBackend } from '../../state/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { BerthError } from '../../model/index.ts';
import { LEADER_KEY, Leadership } from './leadership.ts';
import { fencedBackend } from './fenced-backend.ts';
import { Server } from '../server.ts';
import { nodeBody } from '../test-server.test-helper.ts';

interface Candidate {
  leadership: Leadership;
  /** onElected / onDeposed calls, in order. */
  events: ('elected' | 'deposed')[];
}

async function candidate(t: TestContext, backend: StateBackend, name: string, more: { url?: string; ttlSeconds?: number; probeIntervalMs?: number } = {}): Promise<Candidate> {
  const events: Candidate['events'] = [];
  const leadership = new Leadership({
    backend,
    logger: silentLogger(),
    ttlSeconds: more.ttlSeconds ?? 1,
    probeIntervalMs: more.probeIntervalMs,
    onElected: () => events.push('elected'),
    onDeposed: () => events.push('deposed'),
  });
  await leadership.start({ name, url: more.url ?? `http://${name}:7460`, address: '127.0.0.1', startedAt: 1 });
  t.after(() => leadership.stop());
  return { leadership, events };
}

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The lease the leader key is bound to. */
async function leaderLease(backend: StateBackend): Promise<number> {
  const kv = (await backend.range({ key: LEADER_KEY })).kvs[0];
  assert.ok(kv, 'a leader key exists');
  return kv.lease;
}

describe('leadership', () => {
  it('elects exactly one of three servers, and every one knows the leader and the members', async (t) => {
    const backend = new MemoryBackend();
    const all = [await candidate(t, backend, 'a'), await candidate(t, backend, 'b'), await candidate(t, backend, 'c')];
    await until('everyone to see three members', () => all.every((c) => c.leadership.members().length === 3));
    assert.deepEqual(
      all.map((c) => c.leadership.isLeader),
      [true, false, false],
    );
    for (const c of all) assert.equal(c.leadership.leader?.name, 'a');
    assert.deepEqual(all[0].events, ['elected']);
    assert.deepEqual(all[1].events, []);
    assert.deepEqual(
      all[1].leadership.members().map((m) => m.url),
      ['http://a:7460', 'http://b:7460', 'http://c:7460'],
    );
  });

  it('moves to another server when the leader loses its lease, and the loser is told at once', async (t) => {
    const backend = new MemoryBackend();
    const a = await candidate(t, backend, 'a');
    const b = await candidate(t, backend, 'b');
    assert.equal(a.leadership.isLeader, true);
    await backend.leaseRevoke(await leaderLease(backend));
    await until('b to lead', () => b.leadership.isLeader);
    assert.deepEqual(a.events, ['elected', 'deposed']);
    assert.equal(a.leadership.isLeader, false);
    assert.deepEqual(b.events, ['elected']);
    await until('a to see b lead', () => a.leadership.leader?.name === 'b');
    // a takes a new lease and stays a follower; its member key comes back.
    await until('a to be a member again', () => b.leadership.members().some((m) => m.name === 'a'));
    assert.equal(a.leadership.isLeader, false);
  });

  it('hands over without waiting for the TTL when the leader stops', async (t) => {
    const backend = new MemoryBackend();
    const a = await candidate(t, backend, 'a');
    const b = await candidate(t, backend, 'b');
    const started = Date.now();
    await a.leadership.stop();
    await until('b to lead', () => b.leadership.isLeader);
    assert.ok(Date.now() - started < 900, `handover took ${Date.now() - started} ms, less than the 1 s TTL expected`);
    await until('b to see a gone', () => b.leadership.members().length === 1);
  });

  it('steps down within the TTL when the backend stops answering, before its lease can have run out', async (t) => {
    const backend = new MemoryBackend();
    let silent = false;
    // A backend cut off from this server: its calls never come back.
    const cutOff = new Proxy(backend, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (silent ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const a = await candidate(t, cutOff, 'a');
    assert.equal(a.leadership.isLeader, true);
    silent = true;
    const cutAt = Date.now();
    await until('a to step down', () => !a.leadership.isLeader, 3000);
    const after = Date.now() - cutAt;
    assert.ok(after < 1000, `stepped down ${after} ms after the last renewal could be sent, the TTL is 1000 ms`);
    assert.deepEqual(a.events, ['elected', 'deposed']);
    assert.deepEqual(a.leadership.fence(), [{ key: LEADER_KEY, target: 'createRevision', op: '=', value: -1 }]);
  });

  it('replaces a leader whose address refuses connections long before its lease runs out, and never one that listens', async (t) => {
    const backend = new MemoryBackend();
    const port = await freePort();
    const api = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => api.listen(port, '127.0.0.1', resolve));
    t.after(() => api.close());
    // A 30 s lease: only the probe can move leadership within this test.
    const a = await candidate(t, backend, 'a', { url: `http://127.0.0.1:${port}`, ttlSeconds: 30, probeIntervalMs: 50 });
    const b = await candidate(t, backend, 'b', { ttlSeconds: 30, probeIntervalMs: 50 });
    await until('b to see a lead', () => b.leadership.leader?.name === 'a');
    await sleep(500);
    assert.deepEqual([a.leadership.isLeader, b.events], [true, []], 'a leader that accepts connections keeps leading');
    await new Promise((resolve) => api.close(resolve));
    const closedAt = Date.now();
    await until('b to lead', () => b.leadership.isLeader, 3000);
    assert.ok(Date.now() - closedAt < 2000, `replaced after ${Date.now() - closedAt} ms`);
    await until('a to hear it lost its lease', () => !a.leadership.isLeader);
    assert.deepEqual(a.events, ['elected', 'deposed']);
  });

  it('never deposes a leader it could not reach even once (a firewall that rejects followers)', async (t) => {
    const backend = new MemoryBackend();
    const port = await freePort();
    // Nothing ever listens at a's address, as seen from b.
    const a = await candidate(t, backend, 'a', { url: `http://127.0.0.1:${port}`, ttlSeconds: 30, probeIntervalMs: 50 });
    const b = await candidate(t, backend, 'b', { ttlSeconds: 30, probeIntervalMs: 50 });
    await until('b to see a lead', () => b.leadership.leader?.name === 'a');
    await sleep(600);
    assert.deepEqual([a.leadership.isLeader, a.events, b.events], [true, ['elected'], []]);
  });

  it('fences writes: a deposed leader cannot commit, the new one can', async (t) => {
    const backend = new MemoryBackend();
    const a = await candidate(t, backend, 'a');
    const b = await candidate(t, backend, 'b');
    const fencedA = fencedBackend(backend, () => a.leadership.fence());
    const fencedB = fencedBackend(backend, () => b.leadership.fence());
    const put = (key: string) => ({ compare: [], success: [{ type: 'put' as const, key, value: '1' }] });
    assert.equal((await fencedA.txn(put('/berth/x'))).succeeded, true);
    await assert.rejects(fencedB.txn(put('/berth/y')), (err: unknown) => err instanceof BerthError && err.code === 'conflict');
    // A fenced txn whose own compare fails still answers as before.
    const own = await fencedA.txn({ compare: [{ key: '/berth/x', target: 'version', op: '=', value: 9 }], success: [], failure: [{ type: 'range', selector: { key: '/berth/x' } }] });
    assert.equal(own.succeeded, false);
    assert.equal(own.responses.length, 1);

    await backend.leaseRevoke(await leaderLease(backend));
    await until('b to lead', () => b.leadership.isLeader);
    await assert.rejects(fencedA.txn(put('/berth/z')), (err: unknown) => err instanceof BerthError && err.code === 'conflict');
    assert.equal((await fencedB.txn(put('/berth/z'))).succeeded, true);
    assert.equal((await backend.range({ key: '/berth/y' })).count, 0);
  });
});

/** The backend as one of several servers holds it: closing it is left to the test. */
function shared(backend: StateBackend): StateBackend {
  return new Proxy(backend, {
    get(target, prop) {
      if (prop === 'close') return async () => {};
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Servers a, then b, on one memory backend (a leads), stopped after the test. */
async function twoServers(t: TestContext): Promise<{ backend: MemoryBackend; a: Server; b: Server }> {
  const backend = new MemoryBackend();
  const start = (name: string) => Server.start({ backend: shared(backend), logger: silentLogger(), port: 0, name, leaderLeaseTtlSeconds: 3 });
  const a = await start('a');
  const b = await start('b');
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await backend.close();
  });
  return { backend, a, b };
}

describe('servers sharing one state', () => {
  it('run the control loops on the leader only, and on the other once the leader loses its lease', async (t) => {
    const { backend, a, b } = await twoServers(t);
    assert.equal(a.leading, true);
    assert.equal(b.leading, false);
    const peers = async (s: Server) => (await s.app.inject({ method: 'GET', url: '/v1/servers' })).json<{ name: string; leader: boolean }[]>();
    await until('b to list both servers', async () => (await peers(b)).length === 2);
    assert.deepEqual(await peers(b), [
      { ...(await peers(b))[0], name: 'a', leader: true },
      { ...(await peers(b))[1], name: 'b', leader: false },
    ]);
    assert.equal((await b.app.inject({ method: 'GET', url: '/v1/status/leader' })).json(), new URL(a.url).host);

    await backend.leaseRevoke(await leaderLease(backend));
    await until('b to run the loops', () => b.leading);
    await until('a to stop its loops', () => !a.leading);
    assert.equal((await a.app.inject({ method: 'GET', url: '/v1/status/leader' })).json(), new URL(b.url).host);
  });

  it('forward heartbeats and txns that reach a follower to the leader, and answer 503 when the leader does not answer', async (t) => {
    const { backend, a, b } = await twoServers(t);
    await until('b to know the leader', () => b.leadership.leader?.name === 'a');
    const node = nodeBody();
    const call = (s: Server, method: 'GET' | 'PUT', url: string, body?: unknown) =>
      fetch(s.url + url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    // Registration is a write: any server takes it.
    assert.equal((await call(b, 'PUT', '/v1/nodes/register', node)).status, 200);
    const served = async (s: Server, route = '/v1/nodes/:id/heartbeat') => {
      const text = await (await call(s, 'GET', '/v1/metrics')).text();
      const line = text.split('\n').find((l) => l.startsWith('berth_http_request_duration_seconds_count') && l.includes(`"${route}"`));
      return Number(line?.split(' ').pop() ?? 0);
    };
    const res = await call(b, 'PUT', `/v1/nodes/${node.id}/heartbeat`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(((await res.json()) as { heartbeatTtlMs: number }).heartbeatTtlMs > 0);
    assert.equal(await served(a), 1, 'the leader handled the heartbeat');

    // A lock in a txn sent to the follower is decided by the leader, which holds the lock-delay.
    const session = async (s: Server): Promise<string> => ((await (await call(s, 'PUT', '/v1/session/create', { LockDelay: '10s' })).json()) as { ID: string }).ID;
    const first = await session(a);
    assert.equal(await (await call(a, 'PUT', `/v1/kv/svc/leader?acquire=${first}`, { me: 'first' })).json(), true);
    assert.equal((await call(b, 'PUT', `/v1/session/destroy/${first}`)).status, 200);
    const second = await session(b);
    const lock = await call(b, 'PUT', '/v1/txn', [{ KV: { Verb: 'lock', Key: 'svc/leader', Value: 'c2Vjb25k', Session: second } }]);
    assert.equal(lock.status, 409, 'the lock-delay of the destroyed session holds');
    assert.equal(await served(a, '/v1/txn'), 1, 'the leader handled the txn');

    // A leader that does not answer (a stands for it: it stepped down, and a ghost took the key first).
    await a.leadership.stop();
    const ghost = { name: 'ghost', url: 'http://127.0.0.1:1', address: '127.0.0.1', startedAt: 1 };
    await backend.put('/berth/cluster/leader', JSON.stringify(ghost), { lease: (await backend.leaseGrant(30)).id });
    await until('b to see the ghost lead', () => b.leadership.leader?.name === 'ghost');
    const during = await call(b, 'PUT', `/v1/nodes/${node.id}/heartbeat`);
    assert.equal(during.status, 503);
    assert.match(((await during.json()) as { error: { message: string } }).error.message, /the leader ghost at http:\/\/127.0.0.1:1 did not answer/);
  });

  it('show the last heartbeat of a node, not its registration time, on the leader and on a follower', async (t) => {
    const { a, b } = await twoServers(t);
    await until('b to know the leader', () => b.leadership.leader?.name === 'a');
    const node = nodeBody();
    const put = (url: string, body?: unknown) => fetch(b.url + url, { method: 'PUT', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    assert.equal((await put('/v1/nodes/register', node)).status, 200);
    const registered = (await (await fetch(`${a.url}/v1/nodes/${node.id}`)).json()) as { lastHeartbeat: number };
    await sleep(50);
    const before = Date.now();
    assert.equal((await put(`/v1/nodes/${node.id}/heartbeat`)).status, 200);
    for (const s of [a, b]) {
      const one = (await (await fetch(`${s.url}/v1/nodes/${node.id}`)).json()) as { lastHeartbeat: number };
      const list = (await (await fetch(`${s.url}/v1/nodes`)).json()) as { lastHeartbeat: number }[];
      assert.ok(one.lastHeartbeat >= before && one.lastHeartbeat > registered.lastHeartbeat, `${s.url}: ${one.lastHeartbeat} is the heartbeat, after ${registered.lastHeartbeat}`);
      assert.equal(list[0].lastHeartbeat, one.lastHeartbeat);
    }
  });
});
