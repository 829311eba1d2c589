import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, startServer } from '../../test-server.test-helper.ts';

type Json = Record<string, unknown>;

/** A job whose group declares service `name`, placed on the only node there is. */
const serviceJob = (id: string, name: string): string =>
  [
    `id: ${id}`,
    'groups:',
    '  - name: g',
    '    ports: [{label: http}]',
    '    services:',
    `      - name: ${name}`,
    '        port: http',
    '    tasks:',
    '      - name: t',
    '        driver: process',
    '        config: {command: /bin/sleep, args: ["3600"]}',
    '',
  ].join('\n');

/** A blocking GET over real HTTP: when it returned, with its index and body. */
async function watch(url: string, index: string): Promise<{ at: number; index: string; body: Json[] }> {
  const res = await fetch(`${url}${url.includes('?') ? '&' : '?'}index=${index}&wait=3s`);
  return { at: Date.now(), index: res.headers.get('x-consul-index') ?? '', body: (await res.json()) as Json[] };
}

describe('Consul API: blocking queries and node health', () => {
  it("a node going down wakes the watchers of its services, with serfHealth critical, and not those of other services", { timeout: 20_000 }, async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 500, heartbeatGraceMs: 100 } });
    const api = s.server.url;
    await s.registerNode();
    const stopHeartbeats = s.keepAlive('node-a');
    t.after(stopHeartbeats);
    await s.ok('POST', '/v1/jobs', serviceJob('a', 'svc-a'), 'application/yaml');
    const alloc = await eventually('the allocation of a', async () => (await s.nodeAllocs('node-a')).find((a) => a.jobId === 'a'));
    await s.report('node-a', [alloc], 'running');
    await s.ok('PUT', '/v1/agent/service/register', { ID: 'ext1', Name: 'ext', Port: 80 });
    const passing = await eventually('svc-a passing', async () => {
      const res = await fetch(`${api}/v1/health/service/svc-a?passing`);
      const body = (await res.json()) as Json[];
      return body.length === 1 ? res.headers.get('x-consul-index')! : undefined;
    });
    const catalogIndex = (await fetch(`${api}/v1/catalog/service/svc-a`)).headers.get('x-consul-index')!;
    const healthIndex = (await fetch(`${api}/v1/health/service/svc-a`)).headers.get('x-consul-index')!;
    const extIndex = (await fetch(`${api}/v1/health/service/ext`)).headers.get('x-consul-index')!;

    const watchers = {
      passing: watch(`${api}/v1/health/service/svc-a?passing`, passing),
      health: watch(`${api}/v1/health/service/svc-a`, healthIndex),
      catalog: watch(`${api}/v1/catalog/service/svc-a`, catalogIndex),
      ext: watch(`${api}/v1/health/service/ext`, extIndex),
    };
    const started = Date.now();
    stopHeartbeats();

    // Rendered at the revision that marked the node down: the instance is still registered, and
    // its node check says why it no longer passes.
    const health = await watchers.health;
    assert.ok(Number(health.index) > Number(healthIndex));
    assert.equal(health.body.length, 1, 'the instance is still in the catalog');
    const serf = (health.body[0].Checks as Json[]).find((c) => c.CheckID === 'serfHealth');
    assert.equal(serf?.Status, 'critical');
    const wokeAfter = health.at - started;
    assert.ok(wokeAfter < 2000, `woke ${wokeAfter} ms after the heartbeats stopped`);
    assert.deepEqual((await watchers.passing).body, []);
    assert.ok(Number((await watchers.catalog).index) > Number(catalogIndex));

    // The external service runs on another node: its watcher sits out its whole wait.
    const ext = await watchers.ext;
    assert.equal(ext.index, extIndex);
    assert.ok(ext.at - started >= 2900, `the watcher of ext returned after ${ext.at - started} ms`);
  });
});
