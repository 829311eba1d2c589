import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ingressPlan, sameRoutes } from './ingress-plan.ts';

const inst = (id: string, port: number, status: 'passing' | 'critical') => ({ id, nodeName: 'n', address: '10.0.0.2', port, status });

describe('ingressPlan', () => {
  test('only passing instances are endpoints; HTTP and TCP routes are split', () => {
    const plan = ingressPlan({
      routes: [
        { kind: 'http', service: 'web', jobId: 'web', host: 'web.example', path: '/' },
        { kind: 'http', service: 'web', jobId: 'web2', host: 'web.example', path: '/' },
        { kind: 'tcp', service: 'db', jobId: 'db', port: 9000 },
      ],
      services: [
        { service: 'web', instances: [inst('a', 20001, 'passing'), inst('b', 20002, 'critical')] },
        { service: 'db', instances: [] },
      ],
      nodes: [],
    });
    assert.deepEqual(plan.http, [{ service: 'web', host: 'web.example', pathPrefix: '/' }]);
    assert.deepEqual(plan.tcp, [{ port: 9000, service: 'db' }]);
    assert.deepEqual(plan.endpoints.get('web'), [{ id: 'a', host: '10.0.0.2', port: 20001 }]);
    assert.deepEqual(plan.endpoints.get('db'), []);
    assert.ok(sameRoutes(plan, { ...plan, endpoints: new Map() }), 'endpoints alone are not a route change');
    assert.ok(!sameRoutes(plan, { ...plan, tcp: [] }));
  });
});
