import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import dnsPacket, { type Packet } from 'dns-packet';
import fc from 'fast-check';
import { MemoryBackend, StateStore, StateView } from '../../state/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { Catalog, CatalogRegistry, instanceFromConsul, type LocalNode } from '../catalog/index.ts';
import { CatalogZone, DnsServer } from './index.ts';

/** A decoded message as these tests read it. */
interface Rec {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
}
interface Decoded {
  id?: number;
  rcode: string;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_ra: boolean;
  answers?: Rec[];
  additionals?: Rec[];
  authorities?: Rec[];
}

const NODE: LocalNode = { id: 'n1', name: 'n1', address: '10.0.0.1', datacenter: 'dc1' };

interface Fixture {
  dns: DnsServer;
  registry: CatalogRegistry;
  port: number;
}

/** A catalog with `web` (3 healthy on 10.1.0.1-3, tags v1/v2, and one critical), `db` (IPv4 only), and a DNS server over it. */
async function fixture(t: TestContext, options: { consul?: boolean; recursors?: string[] } = {}): Promise<Fixture> {
  const backend = new MemoryBackend();
  const view = await StateView.open(backend);
  const store = new StateStore(backend, view);
  const catalog = new Catalog(view, NODE);
  const registry = new CatalogRegistry({ view, store, node: NODE, logger: silentLogger() });
  const reg = (body: object): Promise<number> => registry.register(instanceFromConsul(body, NODE, Date.now()), true);
  await reg({ ID: 'web1', Name: 'web', Address: '10.1.0.1', Port: 8001, Tags: ['v1'] });
  await reg({ ID: 'web2', Name: 'web', Address: '10.1.0.2', Port: 8002, Tags: ['v1', 'v2'] });
  await reg({ ID: 'web3', Name: 'web', Address: '10.1.0.3', Port: 8003, Tags: ['v2'] });
  await reg({ ID: 'web4', Name: 'web', Address: '10.1.0.4', Port: 8004, Tags: ['v1'], Check: { TTL: '1h' } });
  await reg({ ID: 'db1', Name: 'db', Address: '10.2.0.1', Port: 5432 });
  // Enough instances that an A answer passes 512 bytes: 40 x 16 bytes plus the header and question.
  for (let i = 0; i < 40; i++) await reg({ ID: `big${i}`, Name: 'big', Address: `10.3.0.${i + 1}`, Port: 9000 + i });
  const zone = new CatalogZone(catalog);
  const dns = await DnsServer.start({ port: 0, zone: () => zone.get(), domains: ['berth', ...(options.consul ? ['consul'] : [])], logger: silentLogger(), recursors: options.recursors });
  t.after(async () => {
    await dns.stop();
    zone.close();
    await view.close();
  });
  return { dns, registry, port: dns.port };
}

/** One query over UDP, as bytes on the wire; resolves undefined when no answer comes in `ms`. */
async function udp(port: number, query: Buffer, ms = 1000): Promise<Buffer | undefined> {
  const sock = dgram.createSocket('udp4');
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      sock.send(query, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

async function ask(port: number, name: string, type: string, extra: Partial<Packet> = {}): Promise<Decoded> {
  const query = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }], ...extra });
  const answer = await udp(port, query);
  assert.ok(answer, `no answer to ${name} ${type}`);
  const decoded = dnsPacket.decode(answer) as unknown as Decoded;
  assert.equal(decoded.id, 4242);
  return decoded;
}

function resolver(port: number): Resolver {
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

describe('DNS: answers', () => {
  it('NAME.service answers the healthy instances, shuffled', async (t) => {
    const { port } = await fixture(t);
    const r = resolver(port);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const addresses = await r.resolve4('web.service.berth');
      assert.deepEqual([...addresses].sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.3'], 'the critical instance is left out');
      seen.add(addresses.join(','));
    }
    assert.ok(seen.size > 1, 'the order changes between queries');
    const p = await ask(port, 'WEB.Service.Berth', 'A');
    assert.equal(p.flag_aa, true);
    assert.equal(p.answers?.[0].name, 'WEB.Service.Berth', 'the question is echoed as asked');
    assert.equal(p.answers?.[0].ttl, 0);
  });

  it('TAG.NAME.service, the datacenter label and RFC 2782 SRV with additionals', async (t) => {
    const { port } = await fixture(t);
    const r = resolver(port);
    assert.deepEqual((await r.resolve4('v2.web.service.berth')).sort(), ['10.1.0.2', '10.1.0.3']);
    assert.deepEqual((await r.resolve4('web.service.dc1.berth')).sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.3']);
    const srv = await ask(port, '_web._v1.service.berth', 'SRV');
    const records = (srv.answers ?? []).map((a) => a.data as { port: number; target: string });
    assert.deepEqual(records.map((s) => s.port).sort(), [8001, 8002]);
    const additionals = (srv.additionals ?? []).filter((a) => a.type === 'A');
    for (const s of records) assert.ok(additionals.some((a) => a.name === s.target), `an A record for ${s.target}`);
    const any = await r.resolveSrv('_web._tcp.service.berth');
    assert.deepEqual(any.map((s) => s.port).sort(), [8001, 8002, 8003]);
    const plain = await r.resolveSrv('db.service.berth');
    assert.equal(plain[0].port, 5432);
    assert.deepEqual(await r.resolve4(plain[0].name), ['10.2.0.1'], 'the SRV target resolves');
  });

  it('NODE.node answers the node address', async (t) => {
    const { port } = await fixture(t);
    assert.deepEqual(await resolver(port).resolve4('n1.node.berth'), ['10.0.0.1']);
    assert.deepEqual(await resolver(port).resolve4('n1.node.dc1.berth'), ['10.0.0.1']);
  });

  it('unknown names get NXDOMAIN with the SOA, known names without the type NOERROR and no answers', async (t) => {
    const { port } = await fixture(t);
    for (const name of ['nope.service.berth', 'web.service.dc9.berth', 'v9.web.service.berth', 'ghost.node.berth', 'x.y.berth']) {
      const p = await ask(port, name, 'A');
      assert.equal(p.rcode, 'NXDOMAIN', name);
      assert.equal(p.authorities?.[0].type, 'SOA', name);
    }
    const aaaa = await ask(port, 'db.service.berth', 'AAAA');
    assert.equal(aaaa.rcode, 'NOERROR');
    assert.equal(aaaa.answers?.length, 0);
    assert.equal(aaaa.authorities?.[0].type, 'SOA');
    const soa = await ask(port, 'berth', 'SOA');
    assert.equal(soa.answers?.[0].type, 'SOA');
  });

  it('other zones are REFUSED without recursion, and consul. is answered only when asked for', async (t) => {
    const { port } = await fixture(t);
    const p = await ask(port, 'example.com', 'A');
    assert.equal(p.rcode, 'REFUSED');
    assert.equal(p.flag_ra, false);
    assert.equal((await ask(port, 'web.service.consul', 'A')).rcode, 'REFUSED');
    const withConsul = await fixture(t, { consul: true });
    assert.deepEqual((await resolver(withConsul.port).resolve4('web.service.consul')).length, 3);
  });

  it('forwards other zones to an upstream when one is set', async (t) => {
    const upstream = await fixture(t);
    const { port } = await fixture(t, { recursors: [`127.0.0.1:${upstream.port}`] });
    // The upstream answers berth. names here, but the forwarder does not know that: it relays bytes.
    const p = await ask(port, 'example.com', 'A');
    assert.equal(p.rcode, 'REFUSED', 'the upstream answer is relayed');
  });

  it('sets TC past 512 bytes over UDP; a resolver then asks over TCP and gets everything', async (t) => {
    const { port, dns } = await fixture(t);
    const p = await ask(port, 'big.service.berth', 'A');
    assert.equal(p.flag_tc, true);
    assert.equal(p.answers?.length, 0);
    assert.ok(dns.stats.truncated > 0);
    const all = await resolver(port).resolve4('big.service.berth');
    assert.equal(all.length, 40, 'the TCP retry returned every instance');
    // With EDNS0 and a large enough buffer the UDP answer carries everything.
    const edns = await ask(port, 'big.service.berth', 'A', { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, flags: 0 } as never] });
    assert.equal(edns.flag_tc, false);
    assert.equal(edns.answers?.length, 40);
    assert.ok(edns.additionals?.some((a) => a.type === 'OPT'));
  });

  it('answers over TCP, several queries on one connection', async (t) => {
    const { port } = await fixture(t);
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    t.after(() => sock.destroy());
    const frames = [1, 2].map((id) => {
      const q = dnsPacket.encode({ type: 'query', id, questions: [{ name: 'db.service.berth', type: 'A' }] });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      return Buffer.concat([len, q]);
    });
    sock.write(Buffer.concat(frames));
    const got: Decoded[] = [];
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
          got.push(dnsPacket.decode(buf.subarray(2, buf.readUInt16BE(0) + 2)) as unknown as Decoded);
          buf = buf.subarray(buf.readUInt16BE(0) + 2);
        }
        if (got.length === 2) resolve();
      });
    });
    assert.deepEqual(got.map((p) => p.id), [1, 2]);
    assert.equal((got[0].answers?.[0] as { data: string }).data, '10.2.0.1');
  });

  it('a check turning critical takes the instance out of the next answer', async (t) => {
    const { port, registry } = await fixture(t);
    const r = resolver(port);
    assert.deepEqual((await r.resolve4('web.service.berth')).length, 3);
    await registry.updateCheck('service:web4', 'passing', '');
    assert.deepEqual((await r.resolve4('web.service.berth')).length, 4);
    await registry.updateCheck('service:web4', 'critical', '');
    assert.deepEqual((await r.resolve4('web.service.berth')).length, 3);
  });
});

describe('DNS: hostile input', () => {
  it('drops and counts malformed packets, and keeps answering', async (t) => {
    const { port, dns } = await fixture(t);
    const valid = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'web.service.berth', type: 'A' }] });
    const sock = dgram.createSocket('udp4');
    t.after(() => sock.close());
    // Each send yields to the event loop, so the server reads as fast as this writes: a burst
    // would only fill the socket buffer and make the kernel drop datagrams, which tests nothing.
    const send = (b: Uint8Array): Promise<void> => new Promise((r) => sock.send(b, port, '127.0.0.1', () => setImmediate(r)));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 600 }),
          // Valid packets with a few bytes changed or cut: the decoder's edge cases.
          fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(valid.length)).map(([flips, cut]) => {
            const b = Buffer.from(valid);
            for (const [i, v] of flips) b[i] = v;
            return b.subarray(0, Math.max(cut, 1));
          }),
        ),
        async (bytes) => send(bytes),
      ),
      { numRuns: 1500 },
    );
    // Still answering; the server takes datagrams in order, so by this answer it has seen them all.
    assert.deepEqual((await resolver(port).resolve4('db.service.berth')), ['10.2.0.1']);
    assert.ok(dns.stats.malformed > 100, `malformed packets are counted (${dns.stats.malformed})`);
    const short = await udp(port, Buffer.from([1, 2, 3]), 200);
    assert.equal(short, undefined, 'a 3-byte packet gets no answer');
  });

  it('survives garbage over TCP: bad frames, lengths that lie, connections cut mid-frame', async (t) => {
    const { port } = await fixture(t);
    const valid = dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'web.service.berth', type: 'A' }] });
    const framed = (b: Uint8Array, length = b.length): Buffer => Buffer.concat([Buffer.from([length >> 8, length & 255]), b]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => framed(b)),
          // A length that promises more or less than follows.
          fc.tuple(fc.integer({ min: 0, max: 65_535 }), fc.uint8Array({ maxLength: 100 })).map(([n, b]) => framed(b, n)),
          fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })).map(([flips]) => {
            const b = Buffer.from(valid);
            for (const [i, v] of flips) b[i] = v;
            return framed(b);
          }),
        ),
        async (bytes) => {
          const sock = net.connect(port, '127.0.0.1');
          sock.on('error', () => {});
          await new Promise((r) => sock.once('connect', r));
          await new Promise<void>((r) => sock.write(bytes, () => r()));
          sock.destroy();
        },
      ),
      { numRuns: 300 },
    );
    assert.deepEqual(await resolver(port).resolve4('db.service.berth'), ['10.2.0.1']);
    const sock = net.connect(port, '127.0.0.1');
    t.after(() => sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    sock.write(framed(valid));
    const answer = await new Promise<Buffer>((r) => sock.once('data', r));
    assert.equal(dnsPacket.decode(answer.subarray(2)).id, 9, 'TCP still answers');
  });
});
