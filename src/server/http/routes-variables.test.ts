import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Allocation, VariableMeta } from '../../model/index.ts';
import { startServer, nodeBody, jobYaml, eventually, type TestServer } from '../test-server.test-helper.ts';

interface Answer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  text: string;
}

async function call(ts: TestServer, method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] = typeof opts.body === 'string' ? 'application/yaml' : 'application/json';
  const res = await ts.server.app.inject({ method, url, payload, headers });
  let body: unknown = {};
  try {
    body = JSON.parse(res.body);
  } catch {
    // not JSON
  }
  return { status: res.statusCode, body: body as Answer['body'], text: res.body };
}

async function aclServer(t: TestContext): Promise<{ ts: TestServer; root: string }> {
  const ts = await startServer(t, { acl: { enabled: true } });
  const res = await call(ts, 'POST', '/v1/acl/bootstrap');
  return { ts, root: res.body.secretId as string };
}

async function tokenWith(ts: TestServer, root: string, name: string, rules: string): Promise<string> {
  assert.equal((await call(ts, 'POST', `/v1/acl/policy/${name}`, { token: root, body: { rules } })).status, 200);
  const res = await call(ts, 'POST', '/v1/acl/token', { token: root, body: { policies: [name] } });
  return res.body.secretId as string;
}

test('variables by path: no token, unknown, too weak, enough give 401, 401, 403, 200, and only the last changes state', async (t) => {
  const { ts, root } = await aclServer(t);
  const weak = await tokenWith(ts, root, 'weak', 'variables:\n  app/: [read]\n');
  const strong = await tokenWith(ts, root, 'strong', 'variables:\n  app/: [write]\n');
  const view = ts.server.ctx.view;
  const put = { body: { items: { password: 's3cret' } } };
  assert.equal((await call(ts, 'PUT', '/v1/var/app/db', put)).status, 401);
  assert.equal((await call(ts, 'PUT', '/v1/var/app/db', { ...put, token: 'nope' })).status, 401);
  const tooWeak = await call(ts, 'PUT', '/v1/var/app/db', { ...put, token: weak });
  assert.equal(tooWeak.status, 403);
  assert.match(tooWeak.body.error!.message, /lacks variables: write on "app\/db"/);
  assert.equal(view.variable('app/db'), undefined, 'a refused write changed state');
  const ok = await call(ts, 'PUT', '/v1/var/app/db', { ...put, token: strong });
  assert.equal(ok.status, 200, ok.text);
  assert.ok(view.variable('app/db'));
  // Read: the weak token may read app/, not beyond it.
  assert.deepEqual((await call(ts, 'GET', '/v1/var/app/db', { token: weak })).body.items, { password: 's3cret' });
  assert.equal((await call(ts, 'PUT', '/v1/var/ops/x', { ...put, token: root })).status, 200);
  assert.equal((await call(ts, 'GET', '/v1/var/ops/x', { token: weak })).status, 403);
  assert.equal((await call(ts, 'GET', '/v1/var/ops/x')).status, 401);
  // Delete needs write.
  assert.equal((await call(ts, 'DELETE', '/v1/var/app/db', { token: weak })).status, 403);
  assert.ok(view.variable('app/db'));
  assert.equal((await call(ts, 'DELETE', '/v1/var/app/db', { token: strong })).status, 200);
  assert.equal(view.variable('app/db'), undefined);
});

test('the list carries metadata only, filtered to the paths the token may list', async (t) => {
  const { ts, root } = await aclServer(t);
  for (const p of ['app/a', 'app/b', 'ops/c']) assert.equal((await call(ts, 'PUT', `/v1/var/${p}`, { token: root, body: { items: { v: `value-of-${p}` } } })).status, 200);
  const app = await tokenWith(ts, root, 'app', 'variables:\n  app/: [list]\n');
  const listed = await call(ts, 'GET', '/v1/vars?prefix=', { token: app });
  assert.equal(listed.status, 200);
  assert.deepEqual((listed.body as unknown as VariableMeta[]).map((v) => v.path), ['app/a', 'app/b']);
  assert.ok(!listed.text.includes('value-of'), 'a list shows items');
  const all = await call(ts, 'GET', '/v1/vars?prefix=app/', { token: root });
  assert.deepEqual((all.body as unknown as VariableMeta[]).map((v) => v.path), ['app/a', 'app/b']);
  // list does not give read.
  assert.equal((await call(ts, 'GET', '/v1/var/app/a', { token: app })).status, 403);
});

test('CAS over HTTP: 409 with the current index; bad paths and bodies are 400 and change nothing', async (t) => {
  const ts = await startServer(t);
  const first = await call(ts, 'PUT', '/v1/var/app/x?cas=0', { body: { items: { a: '1' } } });
  assert.equal(first.status, 200, first.text);
  const index = first.body.modifyIndex as number;
  const stale = await call(ts, 'PUT', '/v1/var/app/x?cas=0', { body: { items: { a: '2' } } });
  assert.equal(stale.status, 409);
  assert.match(stale.body.error!.message, new RegExp(`current modify index is ${index}`));
  assert.equal((await call(ts, 'PUT', `/v1/var/app/x?cas=${index}`, { body: { items: { a: '2' } } })).status, 200);
  assert.equal((await call(ts, 'DELETE', `/v1/var/app/x?cas=${index}`)).status, 409);
  assert.deepEqual((await call(ts, 'GET', '/v1/var/app/x')).body.items, { a: '2' });
  const bad = await call(ts, 'PUT', '/v1/var/app//x', { body: { items: { a: '1' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error!.message, /Invalid variable path "app\/\/x": .*empty segment/);
  assert.equal((await call(ts, 'PUT', '/v1/var/app/y', { body: { items: { a: 1 } } })).status, 400);
  assert.equal((await call(ts, 'PUT', '/v1/var/app/y', { body: { nope: {} } })).status, 400);
  assert.equal((await call(ts, 'GET', '/v1/var/app/missing')).status, 404);
  assert.deepEqual(ts.server.ctx.view.variables().map((v) => v.path), ['app/x']);
});

test('the keyring: list needs operator read, rotate operator write', async (t) => {
  const { ts, root } = await aclServer(t);
  const reader = await tokenWith(ts, root, 'op-read', 'operator: [read]\n');
  const listed = await call(ts, 'GET', '/v1/operator/keyring', { token: reader });
  assert.equal(listed.status, 200);
  assert.equal((listed.body as unknown as unknown[]).length, 1);
  assert.equal((await call(ts, 'PUT', '/v1/operator/keyring/rotate', { token: reader })).status, 403);
  assert.equal((await call(ts, 'PUT', '/v1/operator/keyring/rotate')).status, 401);
  const rotated = await call(ts, 'PUT', '/v1/operator/keyring/rotate', { token: root });
  assert.equal(rotated.status, 200, rotated.text);
  // No variable used the old key, so the leader's rekey loop retires it.
  await eventually('the old key retired', async () => {
    const states = ((await call(ts, 'GET', '/v1/operator/keyring', { token: root })).body as unknown as { state: string }[]).map((k) => k.state);
    return states.join() === 'active,inactive' ? true : undefined;
  });
});

test("a workload token reads its own job's variables only, and dies with the allocation", async (t) => {
  const { ts, root } = await aclServer(t);
  const agent = await tokenWith(ts, root, 'agent', 'nodes: [write]\n');
  const headersOf = (id: string): Record<string, string> => ({ 'x-berth-node-secret': `secret-${id}`, 'x-berth-node-id': id });
  for (const id of ['n1', 'n2']) assert.equal((await call(ts, 'PUT', '/v1/nodes/register', { token: agent, body: nodeBody({ id }), headers: headersOf(id) })).status, 200);
  assert.equal((await call(ts, 'POST', '/v1/jobs', { token: root, body: jobYaml({ id: 'web' }) })).status, 200);
  const alloc = await eventually('an allocation of web', async () => ts.server.ctx.view.allocsByJob('web').find((a: Allocation) => a.desiredStatus === 'run'));
  const nodeHeaders = headersOf(alloc.nodeId);
  const other = alloc.nodeId === 'n1' ? 'n2' : 'n1';
  for (const [p, v] of [
    ['berth/jobs/web', 'own-root'],
    ['berth/jobs/web/db', 'own-db'],
    ['berth/jobs/webapp/db', 'other-prefix'],
    ['berth/jobs/api/db', 'other-job'],
  ]) {
    assert.equal((await call(ts, 'PUT', `/v1/var/${p}`, { token: root, body: { items: { v } } })).status, 200);
  }
  // Only the agent of the allocation's node gets its token.
  const stranger = await call(ts, 'GET', `/v1/allocations/${alloc.id}/identity`, { headers: headersOf(other) });
  assert.equal(stranger.status, 403);
  assert.equal((await call(ts, 'GET', `/v1/allocations/${alloc.id}/identity`, { token: root })).status, 403);
  const forged = await call(ts, 'GET', `/v1/allocations/${alloc.id}/identity`, { headers: { ...nodeHeaders, 'x-berth-node-secret': 'guess' } });
  assert.equal(forged.status, 403);
  const identity = await call(ts, 'GET', `/v1/allocations/${alloc.id}/identity`, { headers: nodeHeaders });
  assert.equal(identity.status, 200, identity.text);
  const wi = identity.body.token as string;
  assert.match(wi, new RegExp(`^wi:${alloc.id}:`));

  assert.deepEqual((await call(ts, 'GET', '/v1/var/berth/jobs/web/db', { token: wi })).body.items, { v: 'own-db' });
  assert.deepEqual((await call(ts, 'GET', '/v1/var/berth/jobs/web', { token: wi })).body.items, { v: 'own-root' });
  assert.equal((await call(ts, 'GET', '/v1/var/berth/jobs/webapp/db', { token: wi })).status, 403);
  assert.equal((await call(ts, 'GET', '/v1/var/berth/jobs/api/db', { token: wi })).status, 403);
  const listed = (await call(ts, 'GET', '/v1/vars?prefix=berth/', { token: wi })).body as unknown as VariableMeta[];
  assert.deepEqual(listed.map((v) => v.path), ['berth/jobs/web', 'berth/jobs/web/db']);
  assert.equal((await call(ts, 'PUT', '/v1/var/berth/jobs/web/db', { token: wi, body: { items: { v: 'x' } } })).status, 403);
  assert.equal((await call(ts, 'GET', '/v1/jobs', { token: wi })).status, 403);
  assert.equal((await call(ts, 'GET', '/v1/kv/anything', { token: wi })).status, 403);
  // A forged token for the same allocation is unknown.
  assert.equal((await call(ts, 'GET', '/v1/var/berth/jobs/web/db', { token: `wi:${alloc.id}:forged` })).status, 401);

  assert.equal((await call(ts, 'DELETE', '/v1/jobs/web', { token: root })).status, 200);
  await eventually('the allocation stopped', async () => (ts.server.ctx.view.alloc(alloc.id)?.desiredStatus === 'stop' ? true : undefined));
  const dead = await call(ts, 'GET', '/v1/var/berth/jobs/web/db', { token: wi });
  assert.equal(dead.status, 401);
  assert.match(dead.body.error!.message, /allocation has stopped/);
});
