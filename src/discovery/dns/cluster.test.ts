import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { describe, it } from 'node:test';
import { silentLogger } from '../../lib/index.ts';
import { DnsCluster } from './cluster.ts';
import type { DnsZoneData } from './zone.ts';

const zoneWith = (addresses: string[], index: number): DnsZoneData => ({
  datacenter: 'dc1',
  services: { web: addresses.map((address, i) => ({ address, port: 8000 + i, tags: [], nodeName: 'n1', datacenter: 'dc1', healthy: true })) },
  nodes: { n1: { address: '10.0.0.1', datacenter: 'dc1' } },
  index,
});

describe('DnsCluster', () => {
  it('two worker processes answer from the zone, follow its changes, and add up their counters', { timeout: 60_000 }, async (t) => {
    let zone = zoneWith(['10.9.0.1', '10.9.0.2'], 1);
    const listeners = new Set<(z: DnsZoneData) => void>();
    const cluster = await DnsCluster.start({
      workers: 2,
      port: 0,
      zone: () => zone,
      onZone: (l) => (listeners.add(l), () => listeners.delete(l)),
      logger: silentLogger(),
    });
    t.after(() => cluster.stop());
    const resolver = new Resolver({ timeout: 1000, tries: 3 });
    resolver.setServers([`127.0.0.1:${cluster.port}`]);
    // Enough queries that both workers (the kernel picks one per datagram) answer some.
    for (let i = 0; i < 20; i++) assert.deepEqual((await resolver.resolve4('web.service.berth')).sort(), ['10.9.0.1', '10.9.0.2']);
    await assert.rejects(resolver.resolve4('nope.service.berth'), { code: 'ENOTFOUND' });

    zone = zoneWith(['10.9.0.3'], 2);
    for (const l of listeners) l(zone);
    let answer: string[] = [];
    for (let i = 0; i < 50 && answer[0] !== '10.9.0.3'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      answer = await resolver.resolve4('web.service.berth');
    }
    assert.deepEqual(answer, ['10.9.0.3']);
    // Every worker has the new zone: no answer from the old one any more.
    for (let i = 0; i < 20; i++) assert.deepEqual(await resolver.resolve4('web.service.berth'), ['10.9.0.3']);

    const stats = await cluster.stats();
    assert.ok(stats.queries >= 42, `queries counted over both workers: ${stats.queries}`);
    assert.equal(stats.nxdomain, 1);
  });
});
