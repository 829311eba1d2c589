import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { StateBackend } from '../../state/index.ts';
import { testBackends, type TestBackend } from '../../testing/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { Server } from '../server.ts';

type Frame = { Index?: number; Events?: { Topic: string; Type: string; Key: string; Index: number; Payload: Record<string, unknown> }[] };

const fixtures = testBackends();

async function serve(t: TestContext, fixture: TestBackend): Promise<{ url: string; backend: StateBackend }> {
  const backend = await fixture.open();
  const server = await Server.start({ backend, logger: silentLogger(), port: 0 });
  t.after(() => server.stop());
  return { url: server.url, backend };
}

/** Open a stream; `next()` returns the next line parsed, `close()` disconnects. */
async function open(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; next: () => Promise<Frame>; raw: () => Promise<string>; close: () => void }> {
  const ctl = new AbortController();
  const res = await fetch(url, { signal: ctl.signal, headers });
  const reader = res.body!.getReader();
  let buf = '';
  const decoder = new TextDecoder();
  const raw = async (): Promise<string> => {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended');
    return decoder.decode(value);
  };
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    raw,
    next: async () => {
      while (!buf.includes('\n')) buf += await raw();
      const at = buf.indexOf('\n');
      const line = buf.slice(0, at);
      buf = buf.slice(at + 1);
      return JSON.parse(line) as Frame;
    },
    close: () => ctl.abort(),
  };
}

const put = (url: string, key: string, value: string): Promise<Response> => fetch(`${url}/v1/kv/${key}`, { method: 'PUT', body: value });

for (const fixture of fixtures) describe(`event stream (${fixture.name})`, () => {
  it('resumes after a disconnect from the last index seen: nothing missed, nothing repeated', async (t) => {
    const { url } = await serve(t, fixture);
    const s1 = await open(`${url}/v1/event/stream?topic=KV:app/*`);
    assert.equal(s1.status, 200);
    assert.match(s1.type, /ndjson/);
    await put(url, 'app/a', '1');
    await put(url, 'other/x', 'ignored by the filter');
    await put(url, 'app/b', '2');
    const f1 = await s1.next();
    const f2 = await s1.next();
    assert.deepEqual([f1, f2].map((f) => f.Events![0].Key), ['app/a', 'app/b']);
    assert.equal(f1.Events![0].Topic, 'KV');
    s1.close();
    // Written while no client listens.
    await put(url, 'app/c', '3');
    await put(url, 'app/d', '4');
    const s2 = await open(`${url}/v1/event/stream?topic=KV:app/*&index=${f2.Index}`);
    const keys = [(await s2.next()).Events![0].Key, (await s2.next()).Events![0].Key];
    assert.deepEqual(keys, ['app/c', 'app/d']);
    // Resuming from an earlier index replays exactly what followed it.
    const s3 = await open(`${url}/v1/event/stream?topic=KV:app/*&index=${f1.Index}`);
    assert.deepEqual([(await s3.next()).Events![0].Key, (await s3.next()).Events![0].Key, (await s3.next()).Events![0].Key], ['app/b', 'app/c', 'app/d']);
    s3.close();
    await put(url, 'app/e', '5');
    const f5 = await s2.next();
    assert.equal(f5.Events![0].Key, 'app/e');
    assert.equal(Buffer.from(String((f5.Events![0].Payload.KV as { Value: string }).Value), 'base64').toString(), '5');
    s2.close();
  });

  it('streams session events, created, destroyed and invalidated, filtered by session name or id', async (t) => {
    const { url } = await serve(t, fixture);
    const call = async (method: string, p: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${url}${p}`, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200, await res.clone().text());
      // The agent's writes answer with an empty body, as Consul's do.
      const text = await res.text();
      return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    };
    const byName = await open(`${url}/v1/event/stream?topic=Session:leader-lock`);
    const ignored = (await call('PUT', '/v1/session/create', { Name: 'other' })).ID as string;
    const first = (await call('PUT', '/v1/session/create', { Name: 'leader-lock', LockDelay: '0s' })).ID as string;
    await put(url, 'lock/leader', 'me').then((r) => r.text());
    await fetch(`${url}/v1/kv/lock/leader?acquire=${first}`, { method: 'PUT', body: 'me' }).then((r) => r.text());
    await call('PUT', `/v1/session/destroy/${first}`);
    const created = (await byName.next()).Events![0];
    assert.deepEqual([created.Topic, created.Type, created.Key], ['Session', 'SessionCreated', first]);
    assert.equal((created.Payload.Session as { Name: string }).Name, 'leader-lock');
    const destroyed = (await byName.next()).Events![0];
    assert.deepEqual([destroyed.Type, destroyed.Key], ['SessionDestroyed', first]);

    // A session bound to a check ends when the check turns critical: invalidated, not destroyed.
    await call('PUT', '/v1/agent/service/register', { Name: 'db', ID: 'db1', Port: 5432, Check: { TTL: '60s', Status: 'passing' } });
    const second = (await call('PUT', '/v1/session/create', { Name: 'leader-lock', Checks: ['service:db1'] })).ID as string;
    const byId = await open(`${url}/v1/event/stream?topic=Session:${second}&index=${destroyed.Index}`);
    await call('PUT', '/v1/agent/check/fail/service:db1');
    assert.deepEqual((await byId.next()).Events!.map((e) => [e.Type, e.Key]), [['SessionCreated', second]]);
    const ended = (await byId.next()).Events![0];
    assert.deepEqual([ended.Type, ended.Key], ['SessionInvalidated', second]);
    assert.deepEqual((await byName.next()).Events!.map((e) => [e.Type, e.Key]), [['SessionCreated', second]]);
    assert.deepEqual((await byName.next()).Events!.map((e) => [e.Type, e.Key]), [['SessionInvalidated', second]], `nothing of session ${ignored} comes through`);
    byName.close();
    byId.close();
  });

  it('starts from now, streams job events as server-sent events with heartbeats, and answers 410 for a compacted index', async (t) => {
    const { url, backend } = await serve(t, fixture);
    await put(url, 'before', 'x');
    const sse = await open(`${url}/v1/event/stream?heartbeat=200`, { accept: 'text/event-stream' });
    assert.match(sse.type, /text\/event-stream/);
    assert.match(await sse.raw(), /^: heartbeat/, 'an idle stream gets a heartbeat, and nothing from before it opened');
    const job = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'id: web\ngroups:\n  - name: g\n    tasks:\n      - name: t\n        driver: process\n        config: {command: /bin/true}\n' });
    assert.equal(job.status, 200, await job.text());
    let text = '';
    while (!/event: events\ndata: .*"Topic":"Job"/.test(text)) text += await sse.raw();
    assert.match(text, /id: \d+\n/);
    sse.close();
    const rev = await backend.revision();
    await fixture.compact(backend, rev);
    const gone = await fetch(`${url}/v1/event/stream?index=1`);
    assert.equal(gone.status, 410);
    assert.match(await gone.text(), /compacted away; start again from now/);
  });
});
