import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { DnsHandler } from './handler.ts';
import type { DnsZoneData } from './zone.ts';

const zone: DnsZoneData = {
  datacenter: 'dc1',
  services: { db: [{ address: '10.2.0.1', port: 5432, tags: [], nodeName: 'n1', datacenter: 'dc1', healthy: true }] },
  nodes: {},
  index: 1,
};
const query = (id: number): Buffer => dnsPacket.encode({ type: 'query', id, questions: [{ name: 'db.service.berth', type: 'A' }] });
const idOf = (b: Buffer): number => b.readUInt16BE(0);

describe('DnsHandler: cached answers', () => {
  it('a copy per query by default; with shared, the cached buffer itself with the id rewritten', () => {
    const h = new DnsHandler(() => zone, { domains: ['berth'], ttl: 0 });
    const first = h.handle(query(1), true) as Buffer;
    const copy = h.handle(query(2), true) as Buffer;
    assert.equal(idOf(first), 1, 'an earlier answer keeps its id');
    assert.equal(idOf(copy), 2);
    const shared = h.handle(query(3), true, true) as Buffer;
    assert.equal(idOf(shared), 3);
    assert.equal(h.handle(query(4), true, true), shared, 'the same buffer again');
    assert.equal(idOf(shared), 4);
    assert.deepEqual((dnsPacket.decode(shared).answers ?? []).map((a) => (a as { data?: unknown }).data), ['10.2.0.1']);
  });

  it('an unshared answer (its send was queued) is left alone by later queries', () => {
    const h = new DnsHandler(() => zone, { domains: ['berth'], ttl: 0 });
    h.handle(query(1), true);
    const inFlight = h.handle(query(2), true, true) as Buffer;
    h.unshare(inFlight);
    const next = h.handle(query(3), true, true) as Buffer;
    assert.notEqual(next, inFlight);
    assert.equal(idOf(inFlight), 2, 'the queued answer still carries its own id');
    assert.equal(idOf(next), 3);
    assert.deepEqual(next.subarray(2), inFlight.subarray(2));
  });
});
