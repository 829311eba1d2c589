import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { StateBackend } from '../../../state/index.ts';
import { testBackends } from '../../../testing/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Server } from '../../server.ts';

type Entry = { Key: string; Value: string | null; Flags: number; CreateIndex: number; ModifyIndex: number; LockIndex: number; Session?: string };

/** A real server on a real port over the given backend. */
async function serve(t: TestContext, backend: StateBackend): Promise<Api> {
  const server = await Server.start({ backend, logger: silentLogger(), port: 0 });
  t.after(() => server.stop());
  return new Api(server.url);
}

class Api {
  constructor(readonly url: string) {}
  async call(method: string, p: string, body?: string | Buffer | object): Promise<{ status: number; index: number; text: string; json: unknown }> {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const res = await fetch(this.url + p, { method, body: payload });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, index: Number(res.headers.get('x-consul-index') ?? 0), text, json };
  }
  async put(key: string, value: string, query = ''): Promise<boolean> {
    const r = await this.call('PUT', `/v1/kv/${key}${query}`, value);
    assert.equal(r.status, 200, r.text);
    return r.json as boolean;
  }
  async get(key: string, query = ''): Promise<Entry[] | undefined> {
    const r = await this.call('GET', `/v1/kv/${key}${query}`);
    if (r.status === 404) return undefined;
    assert.equal(r.status, 200, r.text);
    return r.json as Entry[];
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

const backends = testBackends();

for (const { name, open } of backends) {
  describe(`Consul KV API over HTTP (${name})`, () => {
    it('puts, reads, lists and deletes keys with Consul’s shapes and indexes', async (t) => {
      const api = await serve(t, await open());
      assert.equal(await api.get('app/config'), undefined, 'a missing key is 404');
      assert.equal(await api.put('app/config', 'hello', '?flags=42'), true);
      const [e] = (await api.get('app/config'))!;
      assert.equal(e.Key, 'app/config');
      assert.equal(e.Value, b64('hello'));
      assert.equal(e.Flags, 42);
      assert.equal(e.LockIndex, 0);
      assert.ok(e.CreateIndex > 0 && e.ModifyIndex === e.CreateIndex);
      assert.equal((await api.call('GET', '/v1/kv/app/config?raw')).text, 'hello');
      await api.put('app/db/host', 'db1');
      await api.put('app/db/port', '5432');
      await api.put('other', '');
      assert.equal((await api.get('other'))![0].Value, null, 'an empty value is null');
      assert.deepEqual((await api.get('app/', '?recurse'))!.map((x) => x.Key), ['app/config', 'app/db/host', 'app/db/port']);
      assert.deepEqual((await api.call('GET', '/v1/kv/app/?keys')).json, ['app/config', 'app/db/host', 'app/db/port']);
      assert.deepEqual((await api.call('GET', '/v1/kv/app/?keys&separator=/')).json, ['app/config', 'app/db/']);
      assert.equal((await api.call('GET', '/v1/kv/nothing/?recurse')).status, 404);
      assert.equal((await api.call('DELETE', '/v1/kv/app/db?recurse')).json, true);
      assert.deepEqual((await api.call('GET', '/v1/kv/?keys')).json, ['app/config', 'other']);
      assert.equal((await api.call('DELETE', '/v1/kv/other')).json, true);
      assert.equal(await api.get('other'), undefined);
    });

    it('check-and-set: cas=0 creates only if absent, cas=N only at that index, also for DELETE', async (t) => {
      const api = await serve(t, await open());
      assert.equal(await api.put('lock', 'a', '?cas=0'), true);
      assert.equal(await api.put('lock', 'b', '?cas=0'), false, 'cas=0 on an existing key fails');
      const [e] = (await api.get('lock'))!;
      assert.equal(await api.put('lock', 'c', `?cas=${e.ModifyIndex + 1000}`), false);
      assert.equal(await api.put('lock', 'c', `?cas=${e.ModifyIndex}`), true);
      assert.equal(await api.put('lock', 'd', `?cas=${e.ModifyIndex}`), false, 'a stale index fails');
      const [e2] = (await api.get('lock'))!;
      assert.equal(e2.Value, b64('c'));
      assert.equal(e2.CreateIndex, e.CreateIndex);
      assert.equal((await api.call('DELETE', `/v1/kv/lock?cas=${e.ModifyIndex}`)).json, false);
      assert.equal((await api.call('DELETE', `/v1/kv/lock?cas=${e2.ModifyIndex}`)).json, true);
      assert.equal(await api.get('lock'), undefined);
    });

    it('refuses values over 512 KiB with 413 and a clear message', async (t) => {
      const api = await serve(t, await open());
      const ok = await api.call('PUT', '/v1/kv/big', Buffer.alloc(512 * 1024, 1));
      assert.equal(ok.status, 200);
      const r = await api.call('PUT', '/v1/kv/big', Buffer.alloc(512 * 1024 + 1, 1));
      assert.equal(r.status, 413);
      assert.match(r.text, /limit is 524288 bytes/);
      assert.equal((await api.get('big'))![0].Value!.length, Math.ceil((512 * 1024) / 3) * 4, 'the stored value is unchanged');
    });

    it('a blocking read wakes for its key or prefix only, with the new index', async (t) => {
      const api = await serve(t, await open());
      await api.put('watch/a', '1');
      await api.put('watch/b', '1');
      const a = await api.call('GET', '/v1/kv/watch/a');
      const prefix = await api.call('GET', '/v1/kv/watch/?recurse');
      let woke = '';
      const blockedA = api.call('GET', `/v1/kv/watch/a?index=${a.index}&wait=5s`).then((r) => ((woke += 'a'), r));
      const blockedPrefix = api.call('GET', `/v1/kv/watch/?recurse&index=${prefix.index}&wait=5s`).then((r) => ((woke += 'p'), r));
      await new Promise((r) => setTimeout(r, 100));
      await api.put('elsewhere', 'x');
      await api.put('watch/b', '2');
      const p = await blockedPrefix;
      assert.ok(p.index > prefix.index);
      assert.equal(woke, 'p', 'a write to watch/b wakes the prefix watcher, not the watcher of watch/a');
      await api.put('watch/a', '2');
      const ra = await blockedA;
      assert.equal((ra.json as Entry[])[0].Value, b64('2'));
      assert.ok(ra.index > a.index);
    });

    it('a transaction applies all its operations or none', async (t) => {
      const api = await serve(t, await open());
      await api.put('t/x', 'old');
      const [x] = (await api.get('t/x'))!;
      const ok = await api.call('PUT', '/v1/txn', [
        { KV: { Verb: 'set', Key: 't/a', Value: b64('1') } },
        { KV: { Verb: 'cas', Key: 't/x', Value: b64('new'), Index: x.ModifyIndex } },
        { KV: { Verb: 'get', Key: 't/x' } },
      ]);
      assert.equal(ok.status, 200, ok.text);
      const results = (ok.json as { Results: { KV: Entry }[] }).Results;
      assert.equal(results.length, 3);
      assert.equal(results[0].KV.Value, null, 'writes answer without the value');
      assert.equal(results[2].KV.Value, b64('new'));
      const failed = await api.call('PUT', '/v1/txn', [
        { KV: { Verb: 'set', Key: 't/b', Value: b64('1') } },
        { KV: { Verb: 'check-index', Key: 't/x', Index: x.ModifyIndex } },
      ]);
      assert.equal(failed.status, 409);
      assert.equal((failed.json as { Errors: { OpIndex: number }[] }).Errors[0].OpIndex, 1);
      assert.equal(await api.get('t/b'), undefined, 'nothing of a failed transaction is written');
      const tooMany = await api.call('PUT', '/v1/txn', Array.from({ length: 65 }, (_, i) => ({ KV: { Verb: 'set', Key: `k${i}` } })));
      assert.equal(tooMany.status, 400);
      assert.match(tooMany.text, /limit is 64/);
    });
  });
}
