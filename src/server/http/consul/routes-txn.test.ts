import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { StateBackend } from '../../../state/index.ts';
import { testBackends } from '../../../testing/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Server } from '../../server.ts';

type Json = Record<string, unknown>;
type Reply = { status: number; index: number; text: string; json: Json };

/** A real server on a real port over the given backend; `node` is the name of its own node. */
async function serve(t: TestContext, backend: StateBackend): Promise<{ call: (method: string, p: string, body?: unknown) => Promise<Reply>; node: string }> {
  const server = await Server.start({ backend, logger: silentLogger(), port: 0 });
  t.after(() => server.stop());
  const call = async (method: string, p: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(server.url + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, index: Number(res.headers.get('x-consul-index') ?? 0), text, json: text ? (JSON.parse(text) as Json) : {} };
  };
  const self = await call('GET', '/v1/agent/self');
  return { call, node: (self.json.Config as Json).NodeName as string };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

const backends = testBackends();

for (const { name, open } of backends) {
  describe(`Consul /v1/txn with catalog operations (${name})`, () => {
    it('sets a service and its check together with a key, and reads them back in Consul’s shapes', async (t) => {
      const { call, node } = await serve(t, await open());
      const set = await call('PUT', '/v1/txn', [
        { KV: { Verb: 'set', Key: 'svc/db', Value: b64('on') } },
        { Service: { Verb: 'set', Node: node, Service: { ID: 'db1', Service: 'db', Tags: ['primary'], Port: 5432, Address: '10.0.0.5' } } },
        { Check: { Verb: 'set', Check: { Node: node, CheckID: 'db1-alive', Name: 'db alive', Status: 'passing', ServiceID: 'db1' } } },
      ]);
      assert.equal(set.status, 200, set.text);
      const results = set.json.Results as Json[];
      assert.equal(results.length, 3);
      const service = results[1].Service as Json;
      assert.deepEqual([service.ID, service.Service, service.Port, service.Address, service.Tags], ['db1', 'db', 5432, '10.0.0.5', ['primary']]);
      const check = results[2].Check as Json;
      assert.equal(service.ModifyIndex, set.index, 'the result carries the commit index');
      assert.equal(check.ModifyIndex, set.index);
      const key = (await call('GET', '/v1/kv/svc/db')).json as unknown as Json[];
      assert.equal(key[0].ModifyIndex, set.index, 'one commit: the key, the service and the check');
      assert.deepEqual([check.CheckID, check.Status, check.ServiceID, check.Node], ['db1-alive', 'passing', 'db1', node]);

      const health = await call('GET', '/v1/health/service/db?passing');
      assert.equal(health.status, 200, health.text);
      const entries = health.json as unknown as { Service: Json; Checks: Json[] }[];
      assert.equal(entries.length, 1, 'the service is passing through its txn check');
      assert.equal(entries[0].Service.Port, 5432);

      const get = await call('PUT', '/v1/txn', [
        { Node: { Verb: 'get', Node: { Node: node } } },
        { Service: { Verb: 'get', Node: node, Service: { ID: 'db1' } } },
        { Check: { Verb: 'get', Check: { Node: node, CheckID: 'db1-alive' } } },
      ]);
      assert.equal(get.status, 200, get.text);
      const [n, s, c] = get.json.Results as Json[];
      assert.equal((n.Node as Json).Node, node);
      assert.equal((s.Service as Json).ModifyIndex, service.ModifyIndex);
      assert.equal((c.Check as Json).Name, 'db alive');
    });

    it('cas verbs compare the ModifyIndex; a stale one rolls back every operation, the KV ones too', async (t) => {
      const { call, node } = await serve(t, await open());
      const first = await call('PUT', '/v1/txn', [{ Service: { Verb: 'cas', Node: node, Service: { ID: 'web1', Service: 'web', Port: 80 } } }]);
      assert.equal(first.status, 200, first.text);
      const index = ((first.json.Results as Json[])[0].Service as Json).ModifyIndex as number;
      const again = await call('PUT', '/v1/txn', [{ Service: { Verb: 'cas', Node: node, Service: { ID: 'web1', Service: 'web', Port: 81 } } }]);
      assert.equal(again.status, 409, 'cas with index 0 only creates');

      const stale = await call('PUT', '/v1/txn', [
        { KV: { Verb: 'set', Key: 'rolled/back', Value: b64('x') } },
        { Check: { Verb: 'set', Check: { Node: node, CheckID: 'web1-ttl', ServiceID: 'web1', Definition: { TTL: '30s' } } } },
        { Service: { Verb: 'cas', Node: node, Service: { ID: 'web1', Service: 'web', Port: 82, ModifyIndex: index - 1 } } },
      ]);
      assert.equal(stale.status, 409, stale.text);
      assert.deepEqual(stale.json.Errors, [{ OpIndex: 2, What: `failed to set service "web1" on node "${node}", index is stale` }]);
      assert.equal((await call('GET', '/v1/kv/rolled/back')).status, 404, 'the KV write rolled back');
      const checks = await call('GET', '/v1/health/checks/web');
      assert.deepEqual(checks.json, [], 'the check write rolled back');

      const ok = await call('PUT', '/v1/txn', [{ Service: { Verb: 'cas', Node: node, Service: { ID: 'web1', Service: 'web', Port: 82, ModifyIndex: index } } }]);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(((await call('GET', '/v1/catalog/service/web')).json as unknown as Json[])[0].ServicePort, 82);

      const delStale = await call('PUT', '/v1/txn', [{ Service: { Verb: 'delete-cas', Node: node, Service: { ID: 'web1', ModifyIndex: index } } }]);
      assert.equal(delStale.status, 409);
      const current = ((ok.json.Results as Json[])[0].Service as Json).ModifyIndex;
      const del = await call('PUT', '/v1/txn', [{ Service: { Verb: 'delete-cas', Node: node, Service: { ID: 'web1', ModifyIndex: current } } }]);
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.json.Results, [], 'deletes answer nothing');
      assert.deepEqual((await call('GET', '/v1/catalog/service/web')).json, []);
      const missing = await call('PUT', '/v1/txn', [{ Service: { Verb: 'get', Node: node, Service: { ID: 'web1' } } }]);
      assert.equal(missing.status, 409);
      assert.match(JSON.stringify(missing.json.Errors), /service \\"web1\\" on node .* doesn't exist/);
    });

    it('deletes a check, keeping its service', async (t) => {
      const { call, node } = await serve(t, await open());
      const set = await call('PUT', '/v1/txn', [
        { Service: { Verb: 'set', Node: node, Service: { ID: 'api1', Service: 'api', Port: 9000 } } },
        { Check: { Verb: 'set', Check: { Node: node, CheckID: 'api1-c', ServiceID: 'api1', Status: 'critical' } } },
      ]);
      assert.equal(set.status, 200, set.text);
      assert.deepEqual(((await call('GET', '/v1/health/service/api?passing')).json as unknown as Json[]).length, 0);
      const del = await call('PUT', '/v1/txn', [{ Check: { Verb: 'delete', Check: { Node: node, CheckID: 'api1-c' } } }]);
      assert.equal(del.status, 200, del.text);
      assert.equal(((await call('GET', '/v1/health/service/api?passing')).json as unknown as Json[]).length, 1, 'no check left: passing');
    });

    it('refuses what berth cannot do with a 400 naming the operation and verb, and changes nothing', async (t) => {
      const { call, node } = await serve(t, await open());
      const cases: [unknown, RegExp, string][] = [
        [{ Node: { Verb: 'set', Node: { Node: 'n2', Address: '10.0.0.9' } } }, /operation 1 \(Node set\): Verb "set" is not supported: berth's nodes are its agents/, '[1].Node.Verb'],
        [{ Node: { Verb: 'delete-cas', Node: { Node: 'n2' } } }, /operation 1 \(Node delete-cas\)/, '[1].Node.Verb'],
        [{ Service: { Verb: 'frob', Node: node, Service: { ID: 'x' } } }, /operation 1 \(Service frob\): Verb "frob" is not a Service verb: use one of get, set, cas, delete, delete-cas/, '[1].Service.Verb'],
        [{ Service: { Verb: 'set', Node: 'elsewhere', Service: { ID: 'x', Service: 'x' } } }, /operation 1 \(Service set\): Node is "elsewhere": berth registers external services on its server's node/, '[1].Service.Node'],
        [{ Service: { Verb: 'set', Node: node, Service: { ID: 'x', Service: 'x', Port: 'eighty' } } }, /operation 1 \(Service set\): Service.Port must be an integer/, '[1].Service.Service.Port'],
        [{ Check: { Verb: 'set', Check: { Node: node, CheckID: 'c' } } }, /operation 1 \(Check set\): Check.ServiceID is required/, '[1].Check.Check.ServiceID'],
        [{ Check: { Verb: 'set', Check: { Node: node, CheckID: 'c', ServiceID: 's', Definition: { HTTP: 'http://x' } } } }, /Interval.*required by a http check/, '[1].Check.Check.Definition.Interval'],
        [{ Session: { Verb: 'get' } }, /operation 1 is a Session operation, which berth does not know/, '[1]'],
      ];
      for (const [op, message, where] of cases) {
        const r = await call('PUT', '/v1/txn', [{ KV: { Verb: 'set', Key: 'never', Value: b64('x') } }, op]);
        assert.equal(r.status, 400, `${JSON.stringify(op)}: ${r.text}`);
        const error = r.json.error as { message: string; details: { path: string }[] };
        assert.match(error.message, message);
        assert.equal(error.details[0].path, where);
      }
      assert.equal((await call('GET', '/v1/kv/never')).status, 404);
    });

    it('a delete of a missing service is a no-op, and get-or-empty answers an empty entry', async (t) => {
      const { call, node } = await serve(t, await open());
      const r = await call('PUT', '/v1/txn', [{ Service: { Verb: 'delete', Node: node, Service: { ID: 'nothing-here' } } }, { KV: { Verb: 'get-or-empty', Key: 'absent' } }]);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.Results, [{ KV: { Key: 'absent', Value: null, Flags: 0, CreateIndex: 0, ModifyIndex: 0, LockIndex: 0 } }]);
    });
  });
}
