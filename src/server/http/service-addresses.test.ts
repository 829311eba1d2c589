import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceAddress } from '../../model/index.ts';
import { parseAddressRange } from '../jobs/index.ts';
import { startServer } from '../test-server.test-helper.ts';

function job(id: string, services: { name: string; port: string }[], ports = [{ label: 'http', to: 8080 }, { label: 'db', static: 5432 }]): object {
  return { id, groups: [{ name: 'g', ports, services, tasks: [{ name: 't', driver: 'docker', config: { image: 'busybox' } }] }] };
}

describe('HTTP API: service addresses', () => {
  it('gives each new service the next free address of the range and keeps it across versions', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', job('web', [{ name: 'web', port: 'http' }, { name: 'db', port: 'db' }]));
    const first = await s.ok<ServiceAddress[]>('GET', '/v1/service-addresses');
    assert.deepEqual(first, [
      { service: 'db', address: '198.18.0.2', ports: [5432] },
      { service: 'web', address: '198.18.0.1', ports: [8080] },
    ]);
    await s.ok('POST', '/v1/jobs', job('web', [{ name: 'web', port: 'http' }], [{ label: 'http', to: 9090 }]));
    await s.ok('POST', '/v1/jobs', job('api', [{ name: 'api', port: 'http' }]));
    const later = await s.ok<ServiceAddress[]>('GET', '/v1/service-addresses');
    assert.deepEqual(later, [
      { service: 'api', address: '198.18.0.3', ports: [8080] },
      { service: 'db', address: '198.18.0.2', ports: [5432] },
      { service: 'web', address: '198.18.0.1', ports: [8080, 9090] },
    ]);
  });

  it('gives two services registered at once two addresses', async (t) => {
    const s = await startServer(t);
    await Promise.all([s.ok('POST', '/v1/jobs', job('a', [{ name: 'svc-a', port: 'http' }])), s.ok('POST', '/v1/jobs', job('b', [{ name: 'svc-b', port: 'http' }]))]);
    const rows = await s.ok<ServiceAddress[]>('GET', '/v1/service-addresses');
    assert.deepEqual(rows.map((r) => r.service), ['svc-a', 'svc-b']);
    assert.deepEqual(rows.map((r) => r.address).sort(), ['198.18.0.1', '198.18.0.2']);
  });

  it('answers a blocking query when an address is given', async (t) => {
    const s = await startServer(t);
    const before = await s.request('GET', '/v1/service-addresses');
    const index = Number(before.headers['x-berth-index']);
    const waiting = s.ok<ServiceAddress[]>('GET', `/v1/service-addresses?index=${index}&wait=5s`);
    await s.ok('POST', '/v1/jobs', job('web', [{ name: 'web', port: 'http' }]));
    assert.deepEqual((await waiting).map((a) => a.service), ['web']);
  });

  it('refuses a range that is no IPv4 CIDR block with the fix', () => {
    assert.throws(() => parseAddressRange('10.0.0.0'), /expected an IPv4 CIDR block from \/8 to \/30, such as 198\.18\.0\.0\/16/);
    assert.deepEqual(parseAddressRange('10.9.8.7/30'), { cidr: '10.9.8.7/30', first: 0x0a090805, last: 0x0a090806 });
  });
});
