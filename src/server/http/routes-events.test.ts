import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryBackend } from '../../state/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { Server } from '../server.ts';

type Frame = { Index?: number; Events?: { Topic: string; Type: string; Key: string; Index: number; Payload: Record<string, unknown> }[] };

async function serve(t: TestContext): Promise<{ url: string; backend: MemoryBackend }> {
  const backend = new MemoryBackend();
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

describe('event stream', () => {
  it('resumes after a disconnect from the last index seen: nothing missed, nothing repeated', async (t) => {
    const { url } = await serve(t);
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
    await put(url, 'app/e', '5');
    const f5 = await s2.next();
    assert.equal(f5.Events![0].Key, 'app/e');
    assert.equal(Buffer.from(String((f5.Events![0].Payload.KV as { Value: string }).Value), 'base64').toString(), '5');
    s2.close();
  });

  it('starts from now, streams job events as server-sent events with heartbeats, and answers 410 for a compacted index', async (t) => {
    const { url, backend } = await serve(t);
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
    backend.compact(rev);
    const gone = await fetch(`${url}/v1/event/stream?index=1`);
    assert.equal(gone.status, 410);
    assert.match(await gone.text(), /compacted away; start again from now/);
  });
});
