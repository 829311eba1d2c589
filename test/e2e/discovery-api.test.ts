import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { berth, eventually, freePort, startDev, type DevProcess } from '../harness/berth.ts';

type Json = Record<string, unknown>;

/** The Consul-compatible API and the service CLI against a real `berth dev`, over real sockets. */
describe('service discovery: Consul API and CLI on berth dev', { timeout: 60_000 }, () => {
  let dev: DevProcess;
  let dir: string;
  let dnsPort: number;

  const get = async (url: string): Promise<{ index: number; body: unknown }> => {
    const res = await fetch(`${dev.addr}${url}`);
    assert.equal(res.status, 200, `${url}: ${res.status}`);
    return { index: Number(res.headers.get('x-consul-index')), body: await res.json() };
  };
  const put = async (url: string, body?: unknown): Promise<void> => {
    const res = await fetch(`${dev.addr}${url}`, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } });
    assert.equal(res.status, 200, `${url}: ${res.status} ${await res.text()}`);
  };
  const register = async (file: string, def: object): Promise<void> => {
    await writeFile(path.join(dir, file), JSON.stringify(def));
    const r = await berth(['service', 'register', path.join(dir, file)], { addr: dev.addr });
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    dnsPort = await freePort();
    dev = await startDev({ driver: 'process', args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
    dir = await mkdtemp(path.join(tmpdir(), 'berth-disco-api-'));
  });

  after(async () => {
    await dev?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a blocking query on service A returns when A changes and not when B does', async () => {
    await register('a.json', { ID: 'a1', Name: 'svc-a', Port: 1001, Check: { CheckID: 'a1-ttl', TTL: '1h' } });
    await register('b.json', { ID: 'b1', Name: 'svc-b', Port: 2001, Check: { CheckID: 'b1-ttl', TTL: '1h' } });
    const { index } = await get('/v1/health/service/svc-a');
    let returned = false;
    const blocked = get(`/v1/health/service/svc-a?index=${index}&wait=10s`).then((r) => ((returned = true), r));
    await put('/v1/agent/check/pass/b1-ttl');
    await register('b2.json', { ID: 'b2', Name: 'svc-b', Port: 2002 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(returned, false, 'changes to svc-b woke a watcher of svc-a');
    const before = Date.now();
    await put('/v1/agent/check/pass/a1-ttl');
    const res = await blocked;
    assert.ok(Date.now() - before < 1000, 'the watcher returned promptly');
    assert.ok(res.index > index);
    assert.equal((((res.body as Json[])[0].Checks as Json[])[1]).Status, 'passing');
  });

  it('an external service with a TTL check goes critical when not refreshed, and DNS stops answering it', async () => {
    await register('ttl.json', { service: { ID: 'cache1', Name: 'cache', Port: 6379, Check: { CheckID: 'cache-ttl', TTL: '1500ms' } } });
    await put('/v1/agent/check/pass/cache-ttl?note=warm');
    const passedAt = Date.now();
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    assert.deepEqual(await resolver.resolve4('cache.service.berth'), ['127.0.0.1']);
    const check = await eventually('the TTL check to go critical', async () => {
      const checks = (await get('/v1/health/checks/cache')).body as Json[];
      return checks[0].Status === 'critical' ? checks[0] : undefined;
    }, 5000);
    const elapsed = Date.now() - passedAt;
    assert.ok(elapsed >= 1400, `critical after ${elapsed} ms, not before the TTL`);
    assert.equal(check.Output, 'TTL expired');
    const gone = await berth(['dns', 'query', 'cache.service.berth', '--server', `127.0.0.1:${dnsPort}`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /NXDOMAIN/);
    const metrics = await (await fetch(`${dev.addr}/v1/metrics`)).text();
    assert.match(metrics, /berth_dns_queries\{result="nxdomain"\} [1-9]/);
  });

  it('berth service list, info and deregister show and change the catalog', async () => {
    const list = await berth(['service', 'list'], { addr: dev.addr });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /svc-a\s+1\/1/);
    assert.match(list.stdout, /cache\s+0\/1/);
    const info = await berth(['service', 'info', 'cache'], { addr: dev.addr });
    assert.match(info.stdout, /cache-ttl\s+ttl\s+critical\s+TTL expired/);
    const dereg = await berth(['service', 'deregister', 'cache1'], { addr: dev.addr });
    assert.equal(dereg.code, 0, dereg.stderr);
    const again = await berth(['service', 'deregister', 'cache1'], { addr: dev.addr });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no such service instance/);
    const missing = await berth(['service', 'info', 'cache'], { addr: dev.addr });
    assert.equal(missing.code, 1);
  });
});
