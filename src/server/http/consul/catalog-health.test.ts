import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { Allocation } from '../../../model/index.ts';
import { eventually, startServer, type TestServer } from '../../test-server.test-helper.ts';
import { FakeClock } from '../../../testing/index.ts';

type Json = Record<string, unknown>;

/** A job whose group declares service `name` on port label http, tagged, with one http check. */
function serviceJob(id: string, name: string, tags = ['v1', 'primary']): string {
  return [
    `id: ${id}`,
    'groups:',
    '  - name: g',
    '    ports: [{label: http}]',
    '    services:',
    `      - name: ${name}`,
    '        port: http',
    `        tags: [${tags.join(', ')}]`,
    '        meta: {version: "1"}',
    '        checks:',
    '          - type: http',
    '            path: /health',
    '            interval: 1s',
    '    tasks:',
    '      - name: t',
    '        driver: process',
    '        config: {command: /bin/sleep, args: ["3600"]}',
    '',
  ].join('\n');
}

/** Register node-a and the job, report its allocation running; returns the allocation. */
async function running(s: TestServer, id: string, name: string): Promise<Allocation> {
  if ((await s.request('GET', '/v1/nodes/node-a')).status !== 200) await s.registerNode();
  await s.ok('POST', '/v1/jobs', serviceJob(id, name), 'application/yaml');
  const alloc = await eventually(`an allocation of ${id}`, async () => (await s.nodeAllocs('node-a')).find((a) => a.jobId === id));
  await s.report('node-a', [alloc], 'running');
  return alloc;
}

async function instances(s: TestServer, url: string): Promise<Json[]> {
  return s.ok<Json[]>('GET', url);
}

describe('Consul API: catalog and health', () => {
  it('a running allocation registers its service at the node address and host port, and leaves when it stops', async (t) => {
    const s = await startServer(t);
    const alloc = await running(s, 'web', 'web');
    const list = await eventually('web in the catalog', async () => {
      const l = await instances(s, '/v1/catalog/service/web');
      return l.length === 1 ? l : undefined;
    });
    assert.equal(list[0].ServiceName, 'web');
    assert.equal(list[0].ServicePort, alloc.ports[0].value);
    assert.equal(list[0].ServiceAddress, '127.0.0.1');
    assert.equal(list[0].Node, 'node-a');
    assert.deepEqual(list[0].ServiceTags, ['v1', 'primary']);
    assert.deepEqual(list[0].ServiceMeta, { version: '1' });
    assert.deepEqual(await s.ok('GET', '/v1/catalog/services'), { web: ['primary', 'v1'] });

    // A new check starts critical: not passing until the check says so.
    assert.equal((await instances(s, '/v1/health/service/web?passing')).length, 0);
    const [entry] = await instances(s, '/v1/health/service/web');
    const checks = entry.Checks as Json[];
    assert.deepEqual(checks.map((c) => c.Status), ['passing', 'critical']);
    assert.equal(checks[0].CheckID, 'serfHealth');
    await s.ok('PUT', `/v1/agent/check/update/${checks[1].CheckID as string}`, { Status: 'passing', Output: 'HTTP GET: 200 OK' });
    const passing = await instances(s, '/v1/health/service/web?passing=true');
    assert.equal(passing.length, 1);
    assert.equal(((passing[0].Checks as Json[])[1]).Output, 'HTTP GET: 200 OK');

    await s.report('node-a', [alloc], 'complete');
    await eventually('web gone from the catalog', async () => ((await instances(s, '/v1/catalog/service/web')).length === 0 ? true : undefined));
    assert.deepEqual(await s.ok('GET', '/v1/catalog/services'), {});
  });

  it('tags are ANDed and filter expressions select entries', async (t) => {
    const s = await startServer(t);
    await running(s, 'web', 'web');
    await eventually('web', async () => ((await instances(s, '/v1/catalog/service/web')).length === 1 ? true : undefined));
    assert.equal((await instances(s, '/v1/catalog/service/web?tag=v1&tag=primary')).length, 1);
    assert.equal((await instances(s, '/v1/catalog/service/web?tag=v1&tag=canary')).length, 0);
    assert.equal((await instances(s, '/v1/health/service/web?filter=' + encodeURIComponent('Service.Tags contains "v1" and Service.Meta.version == "1"'))).length, 1);
    assert.equal((await instances(s, '/v1/health/service/web?filter=' + encodeURIComponent('Node.Node != "node-a"'))).length, 0);
    const bad = await s.request('GET', '/v1/health/service/web?filter=' + encodeURIComponent('Service.Tags ~~ x'));
    assert.equal(bad.status, 400);
  });

  it('a blocking query on one service returns when it changes and not when another does', async (t) => {
    const s = await startServer(t);
    await running(s, 'a', 'svc-a');
    await eventually('svc-a', async () => ((await instances(s, '/v1/catalog/service/svc-a')).length === 1 ? true : undefined));
    const first = await s.request('GET', '/v1/health/service/svc-a');
    const index = Number(first.headers['x-consul-index']);
    assert.ok(index > 0);
    const started = Date.now();
    let returnedAt = 0;
    const blocked = s.request('GET', `/v1/health/service/svc-a?index=${index}&wait=5s`).then((r) => ((returnedAt = Date.now()), r));
    // B changes: A's watcher keeps waiting.
    await running(s, 'b', 'svc-b');
    await eventually('svc-b', async () => ((await instances(s, '/v1/catalog/service/svc-b')).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(returnedAt, 0, 'a change to svc-b woke the watcher of svc-a');
    // A changes: it returns, with a higher index.
    const [entry] = await instances(s, '/v1/health/service/svc-a');
    await s.ok('PUT', `/v1/agent/check/pass/${((entry.Checks as Json[])[1]).CheckID as string}`);
    const res = await blocked;
    assert.ok(Number(res.headers['x-consul-index']) > index);
    assert.ok(Date.now() - started < 4000);
  });

  it('an external service with a TTL check passes when refreshed and goes critical when not', async (t) => {
    const clock = new FakeClock();
    const s = await startServer(t, { clock });
    await eventually('the server to lead', async () => (s.server.leading ? true : undefined));
    await s.ok('PUT', '/v1/agent/service/register', { ID: 'db1', Name: 'db', Port: 5432, Tags: ['main'], Check: { CheckID: 'db-ttl', TTL: '30s' } });
    assert.equal((await instances(s, '/v1/health/service/db?passing')).length, 0);
    await s.ok('PUT', '/v1/agent/check/pass/db-ttl?note=alive');
    const [entry] = await instances(s, '/v1/health/service/db?passing');
    assert.equal((entry.Service as Json).Port, 5432);
    assert.equal((entry.Checks as Json[])[1].Output, 'alive');
    const services = await s.ok<Record<string, Json>>('GET', '/v1/agent/services');
    assert.equal(services.db1.Service, 'db');
    const checks = await s.ok<Record<string, Json>>('GET', '/v1/agent/checks');
    assert.equal(checks['db-ttl'].Status, 'passing');
    // On the server's clock: 30 s pass in no time, and real time could not expire it.
    await clock.run(29_999, 10_000);
    assert.equal((await s.ok<Record<string, Json>>('GET', '/v1/agent/checks'))['db-ttl'].Status, 'passing', 'not before its TTL ran out');
    clock.advance(1);
    const critical = await eventually('the TTL check to expire', async () => {
      const [e] = await instances(s, '/v1/health/service/db');
      const c = (e.Checks as Json[])[1];
      return c.Status === 'critical' ? c : undefined;
    }, 3000);
    assert.equal(critical.Output, 'TTL expired');
    await s.ok('PUT', '/v1/agent/service/deregister/db1');
    assert.equal((await instances(s, '/v1/catalog/service/db')).length, 0);
    assert.equal((await s.request('PUT', '/v1/agent/check/pass/db-ttl')).status, 404);
  });

  it('takes a registration sent as a form or with no content type, as curl --data sends it', async (t) => {
    const s = await startServer(t);
    for (const [id, headers] of [['form1', { 'content-type': 'application/x-www-form-urlencoded' }], ['bare1', {}]] as const) {
      const res = await fetch(`${s.server.url}/v1/agent/service/register`, { method: 'PUT', headers, body: JSON.stringify({ ID: id, Name: 'curl', Port: 80 }) });
      assert.equal(res.status, 200, `${id}: ${await res.text()}`);
    }
    const ids = (await instances(s, '/v1/catalog/service/curl')).map((e) => e.ServiceID).sort();
    assert.deepEqual(ids, ['bare1', 'form1']);
    const bad = await fetch(`${s.server.url}/v1/agent/service/register`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{"Name": ' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /not valid JSON/);
  });

  it('an external service critical for longer than deregister_critical_service_after is removed', async (t) => {
    const clock = new FakeClock();
    const s = await startServer(t, { clock });
    await eventually('the server to lead', async () => (s.server.leading ? true : undefined));
    await s.ok('PUT', '/v1/agent/service/register', { Name: 'tmp', Checks: [{ TTL: '10m', DeregisterCriticalServiceAfter: '1m' }] });
    await clock.run(59_999, 20_000);
    assert.equal((await instances(s, '/v1/catalog/service/tmp')).length, 1, 'not before it was critical for a minute');
    clock.advance(1);
    await eventually('tmp removed', async () => ((await instances(s, '/v1/catalog/service/tmp')).length === 0 ? true : undefined), 3000);
  });

  it('the server runs the HTTP check of an external service and reports its transitions', async (t) => {
    let code = 200;
    const target = http.createServer((_req, res) => res.writeHead(code).end('fine'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    t.after(() => target.close());
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/health`;
    const s = await startServer(t);
    await s.ok('PUT', '/v1/agent/service/register', { Name: 'api', Port: 80, Check: { HTTP: url, Interval: '100ms', Timeout: '1s' } });
    const status = async (): Promise<string> => ((await instances(s, '/v1/health/checks/api'))[0].Status as string);
    await eventually('the check to pass', async () => ((await status()) === 'passing' ? true : undefined), 3000);
    code = 503;
    await eventually('the check to fail', async () => ((await status()) === 'critical' ? true : undefined), 3000);
    const [check] = await instances(s, '/v1/health/checks/api');
    assert.match(check.Output as string, /503/);
  });

  it('bad registrations get 400 with the field, status and datacenters answer', async (t) => {
    const s = await startServer(t);
    const res = await s.request<{ error: { details: { path: string }[] } }>('PUT', '/v1/agent/service/register', { Port: 'x', Check: { HTTP: 'http://x/' } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.error.details.map((d) => d.path).sort(), ['Check.Interval', 'Name', 'Port']);
    assert.deepEqual(await s.ok('GET', '/v1/catalog/datacenters'), ['dc1']);
    // A lone server leads; it is known by its API's host:port.
    const self = new URL(s.server.url).host;
    assert.equal(await s.ok<string>('GET', '/v1/status/leader'), self);
    assert.deepEqual(await s.ok<string[]>('GET', '/v1/status/peers'), [self]);
    const agentSelf = await s.ok<{ Config: Json }>('GET', '/v1/agent/self');
    assert.equal(agentSelf.Config.Datacenter, 'dc1');
    await s.registerNode();
    const nodes = await s.ok<Json[]>('GET', '/v1/catalog/nodes');
    assert.ok(nodes.some((n) => n.Node === 'node-a' && n.Address === '127.0.0.1'));
    const node = await s.ok<{ Node: Json; Services: Json }>('GET', '/v1/catalog/node/node-a');
    assert.equal(node.Node.Node, 'node-a');
    assert.equal(await s.ok('GET', '/v1/catalog/node/nope'), null);
    const health = await s.ok<Json[]>('GET', '/v1/health/node/node-a');
    assert.equal(health[0].CheckID, 'serfHealth');
    assert.equal((await s.request('GET', '/v1/health/state/bogus')).status, 400);
  });
});
