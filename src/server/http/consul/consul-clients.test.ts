import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryBackend } from '../../../state/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Server } from '../../server.ts';

type Reply = { status: number; text: string; type: string | null; json: unknown };

/** A real server on a real port; bodies are sent as the raw text a client would write. */
async function serve(t: TestContext): Promise<(method: string, p: string, body?: string, type?: string) => Promise<Reply>> {
  const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0, discovery: { nodeName: 'node-1' } });
  t.after(() => server.stop());
  return async (method, p, body, type) => {
    const res = await fetch(server.url + p, { method, body, headers: type ? { 'content-type': type } : {} });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, type: res.headers.get('content-type'), json };
  };
}

describe('Consul routes as clients in the wild call them', () => {
  it('creates a session from lowercase field names', async (t) => {
    const call = await serve(t);
    const created = await call('PUT', '/v1/session/create', '{"name": "leader", "ttl": "10s", "lockdelay": "1s", "behavior": "delete", "node": "node-1"}');
    assert.equal(created.status, 200, created.text);
    const id = (created.json as { ID: string }).ID;
    const [info] = (await call('GET', `/v1/session/info/${id}`)).json as { Name: string; TTL: string; LockDelay: number; Behavior: string }[];
    assert.deepEqual([info.Name, info.TTL, info.LockDelay, info.Behavior], ['leader', '10s', 1_000_000_000, 'delete']);
  });

  it('still names a field that matches none', async (t) => {
    const call = await serve(t);
    const refused = await call('PUT', '/v1/session/create', '{"ttl": "10s", "colour": "red"}');
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /colour/);
  });

  it('registers a service in any casing and answers with an empty 200, as Consul does', async (t) => {
    const call = await serve(t);
    const reg = await call('PUT', '/v1/agent/service/register', '{"name": "web", "id": "web-1", "port": 8080, "meta": {"Owner": "ops"}, "check": {"ttl": "30s", "status": "passing"}}');
    assert.equal(reg.status, 200, reg.text);
    assert.equal(reg.text, '', 'no body, not "null"');
    const svc = (await call('GET', '/v1/agent/service/web-1')).json as { Service: string; Port: number; Meta: Record<string, string> };
    assert.deepEqual([svc.Service, svc.Port, svc.Meta], ['web', 8080, { Owner: 'ops' }]);
    const update = await call('PUT', '/v1/agent/check/update/service:web-1', '{"status": "warning", "output": "slow"}');
    assert.equal(update.status, 200, update.text);
    assert.equal(update.text, '');
    const checks = (await call('GET', '/v1/agent/checks')).json as Record<string, { Status: string; Output: string }>;
    assert.deepEqual([checks['service:web-1'].Status, checks['service:web-1'].Output], ['warning', 'slow'], 'the lowercase status was read, not defaulted');
    for (const path of ['/v1/agent/check/pass/service:web-1', '/v1/agent/service/deregister/web-1']) {
      const r = await call('PUT', path);
      assert.deepEqual([r.status, r.text], [200, ''], path);
    }
  });

  it('runs a txn written in lowercase', async (t) => {
    const call = await serve(t);
    const res = await call('PUT', '/v1/txn', JSON.stringify([{ kv: { verb: 'set', key: 'a/b', value: Buffer.from('on').toString('base64') } }, { KV: { Verb: 'get', Key: 'a/b' } }]));
    assert.equal(res.status, 200, res.text);
    const results = (res.json as { Results: { KV: { Key: string; Value: string } }[] }).Results;
    assert.equal(Buffer.from(results[1].KV.Value, 'base64').toString(), 'on');
  });

  it('answers a datacenter it does not know as Consul does, and the one it knows as usual', async (t) => {
    const call = await serve(t);
    for (const path of ['/v1/catalog/services?dc=mars', '/v1/health/service/web?dc=mars', '/v1/kv/a?dc=mars', '/v1/session/list?dc=mars']) {
      const r = await call('GET', path);
      assert.deepEqual([r.status, r.text], [500, 'No path to datacenter'], path);
      assert.match(r.type ?? '', /^text\/plain/);
    }
    const write = await call('PUT', '/v1/kv/a?dc=mars', 'x');
    assert.equal(write.status, 500);
    assert.equal((await call('GET', '/v1/kv/a')).status, 404, 'a refused write changes nothing');
    assert.equal((await call('GET', '/v1/catalog/services?dc=dc1')).status, 200);
    assert.equal((await call('GET', '/v1/catalog/services?dc=')).status, 200, 'an empty dc is the local one');
    assert.equal((await call('GET', '/v1/agent/services?dc=mars')).status, 200, "the agent's routes ignore dc, as Consul's do");
    assert.deepEqual((await call('GET', '/v1/catalog/datacenters?dc=mars')).json, ['dc1']);
    // A datacenter becomes known when a node of it registers.
    const node = { id: 'n-eu', name: 'eu-1', datacenter: 'eu', address: '10.0.0.9', httpAddr: 'http://10.0.0.9:4000', attributes: {}, drivers: {}, defaultDriver: 'process', resources: { cpu: 1, memoryMiB: 512 }, portRange: { min: 20000, max: 20100 } };
    const registered = await call('PUT', '/v1/nodes/register', JSON.stringify(node), 'application/json');
    assert.equal(registered.status, 200, registered.text);
    assert.equal((await call('GET', '/v1/catalog/services?dc=eu')).status, 200);
  });
});
