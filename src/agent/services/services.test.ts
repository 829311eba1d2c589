import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns/promises';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { BerthClient } from '../../api/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import type { UpstreamSpec } from '../../model/index.ts';
// An in-process server: the agent's plumbing against the real health API and service addresses.
import { Server } from '../../server/index.ts';
import { MemoryBackend } from '../../state/index.ts';
import { freePorts } from '../../testing/index.ts';
import { answerServiceName, fallbackAddress, NodeDns, PassingFeeds, ServiceAddressProxy, UpstreamListeners, upstreamEnvName } from './index.ts';

/** A TCP server that says its name to each connection and closes. */
async function backend(name: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((s) => s.end(name));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

/** What the service at host:port says. */
function read(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, host);
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

async function eventually<T>(what: string, fn: () => T | Promise<T>, ms = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve().then(fn).catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const spec = (service: string, localBindPort: number): UpstreamSpec => ({
  service, localBindPort, policy: 'round-robin', connectTimeoutMs: 1000, retries: 2, outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
});

describe('agent services', () => {
  let server: Server;
  let client: BerthClient;
  let feeds: PassingFeeds;
  const backends: { port: number; close: () => Promise<void> }[] = [];

  before(async () => {
    server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    client = new BerthClient({ address: server.url });
    feeds = new PassingFeeds({ servers: client.servers, clock: systemClock, logger: silentLogger() });
    for (const name of ['db-1', 'db-2']) backends.push(await backend(name));
    for (const [i, b] of backends.entries()) {
      await client.servers.fetch('/v1/agent/service/register', { method: 'PUT', body: JSON.stringify({ ID: `db-${i + 1}`, Name: 'db', Address: '127.0.0.1', Port: b.port, Check: { CheckID: `db-${i + 1}-ttl`, TTL: '60s', Status: 'passing' } }) });
    }
  });
  after(async () => {
    feeds.close();
    await Promise.all(backends.map((b) => b.close()));
    await server.stop();
  });

  it('an upstream listener reaches every passing instance and stops sending to one whose check fails', async () => {
    const upstreams = new UpstreamListeners(feeds, silentLogger());
    const [port] = await freePorts(1);
    const release = await upstreams.acquire(spec('db', port), '127.0.0.1');
    const seen = await eventually('both instances', async () => {
      const got = new Set<string>();
      for (let i = 0; i < 6; i++) got.add(await read('127.0.0.1', port));
      return got.size === 2 ? [...got] : undefined;
    });
    assert.deepEqual(seen.sort(), ['db-1', 'db-2']);
    await client.servers.fetch('/v1/agent/check/fail/db-2-ttl', { method: 'PUT' });
    await eventually('only db-1', async () => {
      for (let i = 0; i < 6; i++) if ((await read('127.0.0.1', port)) !== 'db-1') return false;
      return true;
    });
    await client.servers.fetch('/v1/agent/check/pass/db-2-ttl', { method: 'PUT' });
    await release();
    await assert.rejects(read('127.0.0.1', port), /ECONNREFUSED/, 'the listener is gone with its last user');
  });

  it('shares a listener between users of one upstream and refuses another upstream on its address', async () => {
    const upstreams = new UpstreamListeners(feeds, silentLogger());
    const [port] = await freePorts(1);
    const first = await upstreams.acquire(spec('db', port), '127.0.0.1');
    const second = await upstreams.acquire(spec('db', port), '127.0.0.1');
    await assert.rejects(upstreams.acquire(spec('cache', port), '127.0.0.1'), new RegExp(`Cannot listen for upstream "cache" on 127\\.0\\.0\\.1:${port}: another allocation on this node has an upstream with other settings there; give one of them another local_bind_port`));
    await first();
    assert.match(await eventually('an answer', () => read('127.0.0.1', port)), /^db-\d$/, 'still served while one user holds it');
    await second();
    await upstreams.close();
    assert.equal(upstreamEnvName('my-db'), 'BERTH_UPSTREAM_ADDR_my_db');
  });

  it('serves a service address on a 127.x address when it cannot add addresses to lo, and says so', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const [port] = await freePorts(1);
    await client.registerJob({ id: 'db', groups: [{ name: 'g', ports: [{ label: 'pg', static: port }], services: [{ name: 'db', port: 'pg' }], tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }] }, 'json');
    const proxy = new ServiceAddressProxy({ client, feeds, clock: systemClock, logger, loopback: { add: async () => ({ ok: false, reason: 'the agent lacks CAP_NET_ADMIN' }), removeAll: async () => undefined } });
    proxy.start();
    const address = await eventually('the address of db', () => proxy.addressOf('db'));
    assert.equal(address, fallbackAddress('198.18.0.1'));
    assert.equal(address, '127.18.0.1');
    assert.match(await eventually('an answer', () => read(address, port)), /^db-\d$/);
    assert.equal(proxy.containersReach, false);
    assert.ok(warnings.some((w) => /CAP_NET_ADMIN/.test(w)), warnings.join('\n'));
    await proxy.stop();
  });

  it('answers NAME.service.berth with the service address and leaves other names alone', () => {
    const query = (name: string, type: 'A' | 'AAAA' | 'SRV' = 'A') => dnsPacket.decode(dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] }));
    const addressOf = (s: string): string | undefined => (s === 'db' ? '198.18.0.1' : undefined);
    const a = dnsPacket.decode(answerServiceName(query('DB.service.berth'), addressOf)!);
    assert.deepEqual(a.answers?.map((r) => [r.type, (r as { data?: unknown }).data]), [['A', '198.18.0.1']]);
    assert.equal(a.id, 7);
    assert.deepEqual(dnsPacket.decode(answerServiceName(query('db.service.berth', 'AAAA'), addressOf)!).answers, []);
    assert.equal(answerServiceName(query('web.service.berth'), addressOf), undefined, 'no address: relayed');
    assert.equal(answerServiceName(query('_db._tcp.service.berth', 'SRV'), addressOf), undefined);
    assert.equal(answerServiceName(query('db.service.consul'), addressOf), undefined, '.consul stays Consul-exact');
  });

  it('answers NAME.SCOPE.network.berth with the address of the service NAME--SCOPE only', () => {
    const query = (name: string) => dnsPacket.decode(dnsPacket.encode({ id: 8, type: 'query', questions: [{ name, type: 'A' }] }));
    const addressOf = (s: string): string | undefined => ({ db: '198.18.0.1', 'db--shop-back': '198.18.0.2' })[s];
    const a = dnsPacket.decode(answerServiceName(query('db.shop-back.network.berth'), addressOf)!);
    assert.deepEqual(a.answers?.map((r) => (r as { data?: unknown }).data), ['198.18.0.2']);
    const none = dnsPacket.decode(answerServiceName(query('db.shop-front.network.berth'), addressOf)!);
    const rcode = (p: { flags?: number }): number => (p.flags ?? 0) & 0xf;
    assert.equal(rcode(none), 3, 'db is not in that scope: no such name, so a resolver tries its next search domain');
    assert.equal(rcode(dnsPacket.decode(answerServiceName(query('db.network.berth'), addressOf)!)), 3, 'NXDOMAIN');
    assert.equal(answerServiceName(query('db.network.example'), addressOf), undefined);
  });

  it('the node DNS answers service names over UDP and TCP and relays the rest to its upstream', async (t) => {
    const [port, upstreamPort] = await freePorts(2);
    const upstream = new NodeDns({ host: '127.0.0.1', port: upstreamPort, addressOf: (s) => (s === 'web' ? '198.18.0.9' : undefined), upstreams: [], logger: silentLogger() });
    const own = new NodeDns({ host: '127.0.0.1', port, addressOf: (s) => (s === 'db' ? '198.18.0.1' : undefined), upstreams: [`127.0.0.1:${upstreamPort}`], logger: silentLogger() });
    await upstream.listen();
    await own.listen();
    t.after(async () => (await own.close(), await upstream.close()));
    const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await resolver.resolve4('db.service.berth'), ['198.18.0.1']);
    assert.deepEqual(await resolver.resolve4('web.service.berth'), ['198.18.0.9'], 'relayed');
    await assert.rejects(resolver.resolve4('nothing.example'), /EREFUSED/, 'no upstream of the upstream: REFUSED, relayed');
    const overTcp = async (name: string): Promise<unknown[]> => {
      const sock = net.connect(port, '127.0.0.1');
      sock.write(dnsPacket.streamEncode({ id: 1, type: 'query', questions: [{ name, type: 'A' }] }));
      const chunks: Buffer[] = [];
      for await (const chunk of sock) {
        chunks.push(chunk as Buffer);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
          sock.destroy();
          return (dnsPacket.streamDecode(all).answers ?? []).map((a) => (a as { data?: unknown }).data);
        }
      }
      return [];
    };
    assert.deepEqual(await overTcp('db.service.berth'), ['198.18.0.1']);
    assert.deepEqual(await overTcp('web.service.berth'), ['198.18.0.9'], 'relayed over TCP');
  });
});
