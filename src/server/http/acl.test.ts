/**
 * ACLs on the HTTP API: every route declares a rule; representative routes of every kind answer
 * 401 / 401 / 403 / 200 to no token / an unknown token / a weak token / a strong enough token, and
 * only the last changes state; node secrets; bootstrap and its reset; expiry; rate limiting.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../../lib/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { startServer, nodeBody, jobYaml, type TestServer } from '../test-server.test-helper.ts';
import { routeRules, secretOf } from './acl-guard.ts';

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

async function call(ts: TestServer, c: Call, token?: string): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown>; text: string }> {
  const headers: Record<string, string> = { ...c.headers };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const payload = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
  if (payload !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
  const res = await ts.server.app.inject({ method: c.method, url: c.url, payload, headers });
  let body: unknown = {};
  try {
    body = JSON.parse(res.body);
  } catch {
    // text
  }
  return { status: res.statusCode, body: body as never, text: res.body };
}

/** A server with ACLs on, bootstrapped: its management secret. */
async function aclServer(t: TestContext, clock: Clock = systemClock, resetFile?: string): Promise<{ ts: TestServer; root: string }> {
  const ts = await startServer(t, { acl: { enabled: true, resetFile }, clock });
  const res = await call(ts, { method: 'POST', url: '/v1/acl/bootstrap' });
  assert.equal(res.status, 200, res.text);
  return { ts, root: res.body.secretId as string };
}

async function tokenWith(ts: TestServer, root: string, name: string, rules: string, extra: Record<string, unknown> = {}): Promise<string> {
  assert.equal((await call(ts, { method: 'POST', url: `/v1/acl/policy/${name}`, body: { rules } }, root)).status, 200);
  const res = await call(ts, { method: 'POST', url: '/v1/acl/token', body: { description: name, policies: [name], ...extra } }, root);
  assert.equal(res.status, 200, res.text);
  return res.body.secretId as string;
}

test('every registered route declares an ACL rule (deny by default otherwise)', async (t) => {
  const ts = await startServer(t, { acl: { enabled: true } });
  const routes = routeRules(ts.server.app);
  assert.ok(routes.length > 70, `only ${routes.length} routes seen`);
  const missing = routes.filter((r) => r.acl === undefined).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(missing, [], 'routes without an ACL rule');
  // The public ones are few and named: a new public route is a decision, made here.
  const open = routes.filter((r) => r.acl && 'public' in r.acl).map((r) => `${r.method} ${r.url}`).sort();
  // The web UI's files (/, /ui, /ui/*) hold no data: the UI asks for a token once the API answers 401.
  assert.deepEqual(open, ['GET /', 'GET /ui', 'GET /ui/*', 'GET /v1/catalog/datacenters', 'GET /v1/catalog/service', 'GET /v1/servers', 'GET /v1/status/leader', 'GET /v1/status/peers', 'POST /v1/acl/bootstrap']);
});

test('representative routes: no token, unknown token, weak token, enough: 401, 401, 403, 200; only the last changes state', async (t) => {
  const { ts, root } = await aclServer(t);
  // Set up objects to act on (as root).
  assert.equal((await call(ts, { method: 'POST', url: '/v1/jobs', body: jobYaml({ id: 'web' }), contentType: 'application/yaml' }, root)).status, 200);
  const weak = await tokenWith(ts, root, 'weak', 'jobs:\n  "*": [read]\nkv:\n  "": [read]\nnodes: [read]\nservices: [read]\nsessions: [read]\nvariables:\n  "": [read]\n');
  const strong = await tokenWith(ts, root, 'strong', 'jobs:\n  "*": [write]\nkv:\n  "": [write]\nnodes: [write]\nservices: [write]\nsessions: [write]\noperator: [read]\nevents: [read]\nagent: [read]\nvariables:\n  "": [write]\n');

  const view = ts.server.ctx.view;
  const cases: { what: string; call: Call; changed: () => boolean }[] = [
    { what: 'register a job', call: { method: 'POST', url: '/v1/jobs', body: jobYaml({ id: 'api' }), contentType: 'application/yaml' }, changed: () => view.job('api') !== undefined },
    { what: 'scale a job', call: { method: 'POST', url: '/v1/jobs/web/scale', body: { count: 3 } }, changed: () => view.job('web')!.groups[0].count === 3 },
    { what: 'stop a job', call: { method: 'DELETE', url: '/v1/jobs/web2' }, changed: () => view.job('web2')?.stop === true },
    { what: 'put a KV key', call: { method: 'PUT', url: '/v1/kv/app/x', body: 'v', contentType: 'text/plain' }, changed: () => ts.server.ctx.kv.store.get('app/x') !== undefined },
    { what: 'put a KV key with X-Consul-Token', call: { method: 'PUT', url: '/v1/kv/app/y', body: 'v', contentType: 'text/plain' }, changed: () => ts.server.ctx.kv.store.get('app/y') !== undefined },
    { what: 'register a Consul service', call: { method: 'PUT', url: '/v1/agent/service/register', body: { Name: 'db', Port: 5432 } }, changed: () => view.instancesOf('db').length > 0 },
    { what: 'create a session', call: { method: 'PUT', url: '/v1/session/create', body: { Name: 's1' } }, changed: () => ts.server.ctx.kv.sessions.list().some((s: { Name?: string }) => s.Name === 's1') },
    { what: 'run a txn', call: { method: 'PUT', url: '/v1/txn', body: [{ KV: { Verb: 'set', Key: 'app/t', Value: 'dg==' } }] }, changed: () => ts.server.ctx.kv.store.get('app/t') !== undefined },
    { what: 'put a variable', call: { method: 'PUT', url: '/v1/var/app/v', body: { items: { password: 'x' } } }, changed: () => view.variable('app/v') !== undefined },
    { what: 'rotate the keyring', call: { method: 'PUT', url: '/v1/operator/keyring/rotate' }, changed: () => view.keyringKeys().length > 2 },
    { what: 'apply an ACL policy', call: { method: 'POST', url: '/v1/acl/policy/extra', body: { rules: 'jobs: [read]' } }, changed: () => view.aclPolicy('extra') !== undefined },
  ];
  assert.equal((await call(ts, { method: 'POST', url: '/v1/jobs', body: jobYaml({ id: 'web2' }), contentType: 'application/yaml' }, root)).status, 200);

  for (const c of cases) {
    const consul = c.what.includes('X-Consul-Token');
    const as = async (token: string | undefined) =>
      consul && token !== undefined ? call(ts, { ...c.call, headers: { 'x-consul-token': token } }) : call(ts, c.call, token);
    const none = await as(undefined);
    assert.equal(none.status, 401, `${c.what} without a token: ${none.text}`);
    assert.equal(none.body.error?.code, 'unauthorized');
    const unknown = await as('00000000-1111-2222-3333-444444444444');
    assert.equal(unknown.status, 401, `${c.what} with an unknown token: ${unknown.text}`);
    assert.match(unknown.body.error!.message, /ACL token not found/);
    // The ACL policy route needs acl:write, which neither client token has.
    const tooWeak = await as(weak);
    assert.equal(tooWeak.status, 403, `${c.what} with a weak token: ${tooWeak.text}`);
    assert.match(tooWeak.body.error!.message, /lacks (jobs|kv|services|sessions|acl|variables|operator): (write|scale)/);
    assert.equal(c.changed(), false, `${c.what}: a refused request changed state`);
    const enough = await as(c.what === 'apply an ACL policy' || c.what === 'rotate the keyring' ? root : strong);
    assert.equal(enough.status, 200, `${c.what} with enough rights: ${enough.text}`);
    assert.equal(c.changed(), true, `${c.what}: the allowed request did not change state`);
  }
});

test('reads are filtered to what the token may read; Consul clients may give ?token=', async (t) => {
  const { ts, root } = await aclServer(t);
  for (const id of ['web', 'webapp', 'db']) assert.equal((await call(ts, { method: 'POST', url: '/v1/jobs', body: jobYaml({ id }), contentType: 'application/yaml' }, root)).status, 200);
  for (const k of ['app/a', 'app/b', 'secret/c']) assert.equal((await call(ts, { method: 'PUT', url: `/v1/kv/${k}`, body: 'v', contentType: 'text/plain' }, root)).status, 200);
  const web = await tokenWith(ts, root, 'web', 'jobs:\n  "web*": [read]\nkv:\n  app/: [read]\n');
  const jobs = await call(ts, { method: 'GET', url: '/v1/jobs' }, web);
  assert.deepEqual((jobs.body as unknown as { id: string }[]).map((j) => j.id).sort(), ['web', 'webapp']);
  assert.equal((await call(ts, { method: 'GET', url: '/v1/jobs/db' }, web)).status, 403);
  const kv = await call(ts, { method: 'GET', url: `/v1/kv/?recurse=true&token=${web}` });
  assert.equal(kv.status, 403, 'a recursive read of the root needs list on the root');
  const app = await call(ts, { method: 'GET', url: `/v1/kv/app/?recurse=true&token=${web}` });
  assert.deepEqual((app.body as unknown as { Key: string }[]).map((e) => e.Key), ['app/a', 'app/b']);
  assert.equal((await call(ts, { method: 'GET', url: '/v1/kv/secret/c', headers: { 'x-consul-token': web } })).status, 403);
  // X-Consul-Token is Consul's header: berth's own routes do not read it.
  assert.equal((await call(ts, { method: 'GET', url: '/v1/jobs', headers: { 'x-consul-token': web } })).status, 401);
  assert.equal((await call(ts, { method: 'GET', url: '/v1/jobs', headers: { 'x-berth-token': web } })).status, 200);
});

test('the anonymous token acts for requests without a token, with the policy the operator gives it', async (t) => {
  const { ts, root } = await aclServer(t);
  assert.equal((await call(ts, { method: 'GET', url: '/v1/jobs' })).status, 401);
  assert.equal((await call(ts, { method: 'POST', url: '/v1/acl/policy/anon', body: { rules: 'jobs: [read]' } }, root)).status, 200);
  assert.equal((await call(ts, { method: 'POST', url: '/v1/acl/token/anonymous', body: { policies: ['anon'] } }, root)).status, 200);
  assert.equal((await call(ts, { method: 'GET', url: '/v1/jobs' })).status, 200);
  assert.equal((await call(ts, { method: 'POST', url: '/v1/jobs', body: jobYaml(), contentType: 'application/yaml' })).status, 401);
  assert.equal((await call(ts, { method: 'DELETE', url: '/v1/acl/token/anonymous' }, root)).status, 400);
});

test('POST /v1/acl/authorize answers what the caller may do, per object or on any; a wrong capability is a 400 naming it', async (t) => {
  const { ts, root } = await aclServer(t);
  const reader = await tokenWith(ts, root, 'reader', 'jobs:\n  "*": [read]\n  "web-*": [scale]\nnodes: [read]\n');
  const checks = [
    { scope: 'jobs', name: 'api', capability: 'read' },
    { scope: 'jobs', name: 'api', capability: 'write' },
    { scope: 'jobs', name: 'web-1', capability: 'scale' },
    { scope: 'jobs', name: 'api', capability: 'scale' },
    { scope: 'jobs', capability: 'scale' },
    { scope: 'nodes', name: 'dev', capability: 'write' },
  ];
  const ask = (token?: string, body: unknown = { checks }): ReturnType<typeof call> => call(ts, { method: 'POST', url: '/v1/acl/authorize', body }, token);
  assert.deepEqual((await ask(reader)).body.allowed, [true, false, true, false, true, false]);
  assert.deepEqual((await ask(root)).body.allowed, [true, true, true, true, true, true], 'a management token may do anything');
  assert.deepEqual((await ask()).body.allowed, [false, false, false, false, false, false], 'the anonymous token, with no policy');
  assert.equal((await ask('not-a-token')).status, 401);
  const bad = await ask(reader, { checks: [{ scope: 'jobs', name: 'api', capability: 'fly' }] });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error!.message, /checks\[0\]\.capability: "fly" is not a capability of jobs/);
  assert.equal((await ask(reader, { checks: [{ scope: 'planets', capability: 'read' }] })).status, 400);
});

test('a token that expires stops working without a restart', async (t) => {
  const clock = new FakeClock(Date.now());
  const { ts, root } = await aclServer(t, clock);
  const brief = await tokenWith(ts, root, 'reader', 'jobs: [read]', { expirationTtl: '1h' });
  assert.equal((await call(ts, { method: 'GET', url: '/v1/jobs' }, brief)).status, 200);
  clock.advance(3_600_001);
  const res = await call(ts, { method: 'GET', url: '/v1/jobs' }, brief);
  assert.equal(res.status, 401);
  assert.match(res.body.error!.message, /expired at/);
});

test('bootstrap works once; the reset file allows one more', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-acl-'));
  const resetFile = path.join(dir, 'acl-bootstrap-reset');
  const { ts, root } = await aclServer(t, systemClock, resetFile);
  const again = await call(ts, { method: 'POST', url: '/v1/acl/bootstrap' });
  assert.equal(again.status, 403);
  const index = /reset index: (\d+)/.exec(again.body.error!.message)?.[1];
  assert.ok(index, again.text);
  assert.match(again.body.error!.message, new RegExp(`write ${index} into ${resetFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  await writeFile(resetFile, '1\n');
  assert.equal((await call(ts, { method: 'POST', url: '/v1/acl/bootstrap' })).status, 403, 'a wrong reset index does not reset');
  await writeFile(resetFile, `${index}\n`);
  const second = await call(ts, { method: 'POST', url: '/v1/acl/bootstrap' });
  assert.equal(second.status, 200, second.text);
  await assert.rejects(access(resetFile), 'the reset file is used up');
  // Both management tokens work; the secrets are stored only as hashes.
  assert.equal((await call(ts, { method: 'GET', url: '/v1/acl/tokens' }, root)).status, 200);
  assert.equal((await call(ts, { method: 'GET', url: '/v1/acl/tokens' }, second.body.secretId as string)).status, 200);
  const stored = JSON.stringify(ts.server.ctx.view.aclTokens());
  assert.ok(!stored.includes(root) && !stored.includes(second.body.secretId as string), 'a secret is stored in the clear');
  const listed = await call(ts, { method: 'GET', url: '/v1/acl/tokens' }, root);
  assert.ok(!listed.text.includes('secretHash') && !listed.text.includes(root));
  void readFile;
});

test('failed token checks are rate-limited per client address', async (t) => {
  const { ts } = await aclServer(t);
  let last = 0;
  for (let i = 0; i < 25; i++) last = (await call(ts, { method: 'GET', url: '/v1/jobs' }, `bad-${i}`)).status;
  assert.equal(last, 429);
});

test('a node is bound to the secret it registered with: an impostor cannot re-register, heartbeat or report for it', async (t) => {
  const ts = await startServer(t);
  const as = (secret?: string): Record<string, string> => (secret ? { 'x-berth-node-secret': secret } : {});
  const node = nodeBody({ id: 'n1', httpAddr: 'http://10.0.0.1:7461' });
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/register', body: node, headers: as('secret-a') })).status, 200);
  const impostor = await call(ts, { method: 'PUT', url: '/v1/nodes/register', body: { ...node, httpAddr: 'http://10.6.6.6:7461' }, headers: as('secret-b') });
  assert.equal(impostor.status, 403, impostor.text);
  assert.match(impostor.body.error!.message, /registered with another node secret/);
  assert.equal(ts.server.ctx.view.node('n1')!.httpAddr, 'http://10.0.0.1:7461', 'the impostor changed the node');
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/register', body: node })).status, 403, 'no secret at all');
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/n1/heartbeat', headers: as('secret-b') })).status, 403);
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/n1/heartbeat' })).status, 403);
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/n1/heartbeat', headers: as('secret-a') })).status, 200);
  const forged = await call(ts, { method: 'PUT', url: '/v1/nodes/n1/allocations', body: { allocs: [] }, headers: as('secret-b') });
  assert.equal(forged.status, 403);
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/n1/allocations', body: { allocs: [] }, headers: as('secret-a') })).status, 200);
  // The real agent re-registers (a restart) with its secret.
  assert.equal((await call(ts, { method: 'PUT', url: '/v1/nodes/register', body: node, headers: as('secret-a') })).status, 200);
  // The secret never shows in the node's record.
  assert.ok(!(await call(ts, { method: 'GET', url: '/v1/nodes/n1' })).text.includes('secret-a'));
});

test('a browser WebSocket carries its token as the subprotocol berth.token.<secret>', () => {
  const url = '/v1/allocations/abcd/exec';
  assert.equal(secretOf({ 'sec-websocket-protocol': 'berth, berth.token.6f1c-22' }, url), '6f1c-22');
  assert.equal(secretOf({ 'sec-websocket-protocol': 'berth' }, url), undefined);
  assert.equal(secretOf({ 'sec-websocket-protocol': 'berth, berth.token.' }, url), undefined, 'an empty secret is none');
  assert.equal(secretOf({ authorization: 'Bearer first', 'sec-websocket-protocol': 'berth.token.second' }, url), 'first', 'a header wins');
});
