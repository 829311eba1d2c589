import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IngressStatus } from '../../api/index.ts';
import { INGRESS_NODE_META } from '../../model/index.ts';
import { startServer } from '../test-server.test-helper.ts';

interface ErrorBody {
  error: { code: string; message: string; details: { path: string; message: string }[] };
}

function job(id: string, service: string, ingress: object[]): object {
  return {
    id,
    groups: [{ name: 'g', count: 0, ports: [{ label: 'http' }], services: [{ name: service, port: 'http', ingress }], tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }],
  };
}

describe('ingress routes at submit and in /v1/ingress', () => {
  test('a host and path another job routes to another service is refused with the path and the fix, and nothing is written', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', job('web', 'web', [{ host: 'web.example', path: '/api' }]));
    const res = await s.request<ErrorBody>('POST', '/v1/jobs', job('api', 'api', [{ host: 'WEB.example', path: '/api/' }]));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details[0].path, 'groups[0].services[0].ingress[0]');
    assert.match(res.body.error.message, /host "web\.example" path "\/api" is already routed to service "web" of job "web"; give this route another host, path or port, or stop job "web" first/);
    assert.equal((await s.request('GET', '/v1/jobs/api')).status, 404);
    // The same plan is refused the same way.
    assert.equal((await s.request('POST', '/v1/jobs/api/plan', job('api', 'api', [{ host: 'web.example', path: '/api' }]))).status, 400);
    // Another path, or the same service from another job, is fine.
    await s.ok('POST', '/v1/jobs', job('api', 'api', [{ host: 'web.example', path: '/apis' }]));
    await s.ok('POST', '/v1/jobs', job('web2', 'web', [{ host: 'web.example', path: '/api' }]));
  });

  test('a privileged TCP port is refused when an ingress node cannot bind it', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', job('low', 'low', [{ port: 80 }]));
    await s.registerNode({ name: 'edge', meta: { [INGRESS_NODE_META.addresses]: '10.0.0.1:8080', [INGRESS_NODE_META.proxy]: 'builtin', [INGRESS_NODE_META.portStart]: '1024' } });
    const res = await s.request<ErrorBody>('POST', '/v1/jobs', job('low2', 'low2', [{ port: 443 }]));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details[0].path, 'groups[0].services[0].ingress[0].port');
    assert.match(res.body.error.details[0].message, /port 443 is privileged and the agent of ingress node\(s\) "edge" has no right to bind it; use a port of 1024 or above, or run those agents as root/);
    await s.ok('POST', '/v1/jobs', job('high', 'high', [{ port: 8443 }]));
  });

  test('GET /v1/ingress lists the routes, the ingress nodes and the routed services', async (t) => {
    const s = await startServer(t);
    await s.registerNode({ name: 'edge', meta: { [INGRESS_NODE_META.addresses]: '10.0.0.1:8080', [INGRESS_NODE_META.proxy]: 'haproxy', [INGRESS_NODE_META.portStart]: '0' } });
    await s.ok('POST', '/v1/jobs', job('web', 'web', [{ host: 'web.example' }, { port: 9000 }]));
    const status = await s.ok<IngressStatus>('GET', '/v1/ingress');
    assert.deepEqual(status.routes, [
      { kind: 'http', service: 'web', jobId: 'web', path: '/', host: 'web.example' },
      { kind: 'tcp', service: 'web', jobId: 'web', port: 9000 },
    ]);
    assert.deepEqual(status.services, [{ service: 'web', instances: [] }]);
    assert.deepEqual(status.nodes.map((n) => [n.name, n.addresses, n.proxy]), [['edge', ['10.0.0.1:8080'], 'haproxy']]);
    await s.ok('DELETE', '/v1/jobs/web');
    assert.deepEqual((await s.ok<IngressStatus>('GET', '/v1/ingress')).routes, []);
  });

  test('with ACLs on, GET /v1/ingress shows only the services the token may read', async (t) => {
    const s = await startServer(t, { acl: { enabled: true } });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const inject = async (method: 'GET' | 'POST', url: string, token: string, body?: unknown) =>
      s.server.app.inject({ method, url, headers: { ...as(token), ...(body ? { 'content-type': 'application/json' } : {}) }, payload: body ? JSON.stringify(body) : undefined });
    const root = (await s.server.app.inject({ method: 'POST', url: '/v1/acl/bootstrap' })).json<{ secretId: string }>().secretId;
    for (const [id, svc] of [['web', 'web'], ['db', 'db']]) assert.equal((await inject('POST', '/v1/jobs', root, job(id, svc, [{ host: `${svc}.example` }]))).statusCode, 200);
    assert.equal((await inject('POST', '/v1/acl/policy/web-only', root, { rules: 'services:\n  "web": [read]\n' })).statusCode, 200);
    const token = (await inject('POST', '/v1/acl/token', root, { description: 'w', policies: ['web-only'] })).json<{ secretId: string }>().secretId;
    const status = (await inject('GET', '/v1/ingress', token)).json<IngressStatus>();
    assert.deepEqual(status.routes.map((r) => r.service), ['web']);
    assert.equal((await s.server.app.inject({ method: 'GET', url: '/v1/ingress' })).statusCode, 401);
  });
});
