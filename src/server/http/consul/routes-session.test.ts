import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryBackend } from '../../../state/index.ts';
import { silentLogger, type Clock } from '../../../lib/index.ts';
import { FakeClock } from '../../../testing/index.ts';
import { Server } from '../../server.ts';

// Answers are read field by field as a Consul client would; `any` keeps the test readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function serve(t: TestContext, clock?: Clock): Promise<(method: string, p: string, body?: unknown) => Promise<{ status: number; json: any; text: string }>> {
  const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0, discovery: { nodeName: 'node-1' }, clock });
  t.after(() => server.stop());
  return async (method, p, body) => {
    const res = await fetch(server.url + p, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
}

describe('Consul session API over HTTP', () => {
  it('creates, lists, renews and destroys sessions with Consul’s defaults', async (t) => {
    const call = await serve(t);
    const created = await call('PUT', '/v1/session/create');
    assert.equal(created.status, 200, created.text);
    const id = created.json.ID as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const [info] = (await call('GET', `/v1/session/info/${id}`)).json;
    assert.equal(info.Node, 'node-1', 'the default node is the server’s');
    assert.equal(info.Behavior, 'release');
    assert.equal(info.LockDelay, 15_000_000_000, 'lock-delay defaults to 15s, in nanoseconds');
    const named = (await call('PUT', '/v1/session/create', { Name: 'leader', TTL: '10s', Behavior: 'delete', LockDelay: '1s', Node: 'node-2' })).json.ID;
    assert.equal((await call('GET', '/v1/session/list')).json.length, 2);
    assert.deepEqual((await call('GET', '/v1/session/node/node-2')).json.map((s: { ID: string }) => s.ID), [named]);
    const renewed = await call('PUT', `/v1/session/renew/${named}`);
    assert.equal(renewed.json[0].TTL, '10s');
    assert.equal((await call('PUT', '/v1/session/create', { TTL: '5s' })).status, 400, 'a TTL under 10s is refused');
    assert.equal((await call('PUT', '/v1/session/create', { Behavior: 'explode' })).status, 400);
    assert.equal((await call('PUT', `/v1/session/destroy/${id}`)).json, true);
    assert.deepEqual((await call('GET', `/v1/session/info/${id}`)).json, []);
    assert.equal((await call('PUT', `/v1/session/renew/${id}`)).status, 404);
  });

  it('locks: acquire, contention, release, and lock-delay after the holder’s session ends', async (t) => {
    // Lock-delay runs on the server's clock: the test moves it instead of waiting a second.
    const clock = new FakeClock();
    const call = await serve(t, clock);
    const a = (await call('PUT', '/v1/session/create', { LockDelay: '1s' })).json.ID;
    const b = (await call('PUT', '/v1/session/create', { LockDelay: '1s' })).json.ID;
    assert.equal((await call('PUT', `/v1/kv/service/leader?acquire=${a}`, 'a')).json, true);
    assert.equal((await call('PUT', `/v1/kv/service/leader?acquire=${b}`, 'b')).json, false, 'a held lock cannot be taken');
    let [e] = (await call('GET', '/v1/kv/service/leader')).json;
    assert.equal(e.Session, a);
    assert.equal(e.LockIndex, 1);
    assert.equal((await call('PUT', `/v1/kv/service/leader?release=${b}`, 'x')).json, false, 'only the holder releases');
    assert.equal((await call('PUT', `/v1/kv/service/leader?release=${a}`, 'a')).json, true);
    [e] = (await call('GET', '/v1/kv/service/leader')).json;
    assert.equal(e.Session, undefined);
    assert.equal((await call('PUT', `/v1/kv/service/leader?acquire=${b}`, 'b')).json, true, 'a released lock is free at once');
    [e] = (await call('GET', '/v1/kv/service/leader')).json;
    assert.equal(e.LockIndex, 2);
    await call('PUT', `/v1/session/destroy/${b}`);
    [e] = (await call('GET', '/v1/kv/service/leader')).json;
    assert.equal(e.Session, undefined, 'ending a session releases its locks (behavior release)');
    assert.equal(e.Value, Buffer.from('b').toString('base64'), 'and keeps the value');
    const started = clock.now();
    assert.equal((await call('PUT', `/v1/kv/service/leader?acquire=${a}`, 'a')).json, false, 'lock-delay holds the key');
    clock.advance(999);
    assert.equal((await call('PUT', `/v1/kv/service/leader?acquire=${a}`, 'a')).json, false, 'still held 1 ms before the lock-delay ends');
    while ((await call('PUT', `/v1/kv/service/leader?acquire=${a}`, 'a')).json !== true) clock.advance(100);
    const waited = clock.now() - started;
    assert.ok(waited >= 800 && waited < 3000, `acquired after ${waited} ms of a 1s lock-delay`);
    const d = (await call('PUT', '/v1/session/create', { Behavior: 'delete', LockDelay: '0s' })).json.ID;
    assert.equal((await call('PUT', `/v1/kv/ephemeral?acquire=${d}`, 'x')).json, true);
    await call('PUT', `/v1/session/destroy/${d}`);
    assert.equal((await call('GET', '/v1/kv/ephemeral')).status, 404, 'behavior delete deletes the keys');
    assert.equal((await call('PUT', '/v1/kv/x?acquire=nope', 'x')).status, 400);
  });
});
