/**
 * The node's DNS responder for its containers (docker's `Dns` = the bridge gateway, where it
 * listens): `NAME.service.berth` (A) answers the service's address, the same on every node, so
 * `db.service.berth:5432` reaches a passing instance anywhere; `NAME.SCOPE.network.berth` answers
 * the address of the service `NAME--SCOPE` (a name in one scope: containers searching
 * `SCOPE.network.berth` resolve the bare NAME, others do not; Compose networks); every other query is relayed as
 * it came to the agent's DNS servers (`--task-dns`, else the host's resolvers), so SRV records,
 * `.consul` names and the outside world answer as before. UDP only: answers for service names
 * are one record; a relayed truncated answer tells the client to retry over TCP, which the
 * upstream then serves only if the client reaches it (documented in the README).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Packet } from 'dns-packet';
import type { Logger } from '../../lib/index.ts';

/** Options of a NodeDns. */
export interface NodeDnsOptions {
  /** The address to listen on (the bridge gateway); port 53 unless `port`. */
  host: string;
  /** Default 53 (Docker's `Dns` takes addresses only). */
  port?: number;
  /** The service address of a name, if it has one. */
  addressOf: (service: string) => string | undefined;
  /** Where other queries go (`ip` or `ip:port`); none: answered REFUSED. */
  upstreams: string[];
  logger: Logger;
}

/** Seconds a service address may be cached: it never changes, but a new service's name must resolve soon after it is given one. */
const TTL = 5;
const FORWARD_TIMEOUT_MS = 2000;
const SERVICE_NAME = /^([a-z0-9-]+)\.service\.berth\.?$/i;
/** `NAME.SCOPE.network.berth`: the service `NAME--SCOPE`, a name registered only in that scope (a Compose network). */
const SCOPED_NAME = /^([a-z0-9-]+)\.([a-z0-9-]+)\.network\.berth\.?$/i;
const NETWORK_ZONE = /(^|\.)network\.berth\.?$/i;
/** The RCODE bits of a name that does not exist. */
const NXDOMAIN = 3;

/** A UDP DNS responder for one node's containers. */
export class NodeDns {
  readonly #o: NodeDnsOptions;
  readonly #socket: dgram.Socket;
  readonly #tcp: net.Server;

  constructor(options: NodeDnsOptions) {
    // Relaying to itself (`--task-dns auto` names the bridge address it listens on) would loop.
    const self = `${options.host}:${options.port ?? 53}`;
    this.#o = { ...options, upstreams: options.upstreams.filter((u) => (u.includes(':') ? u : `${u}:53`) !== self) };
    this.#socket = dgram.createSocket(net.isIPv6(options.host) ? 'udp6' : 'udp4');
    this.#socket.on('message', (query, peer) => void this.#answer(query, 'udp').then((reply) => reply && this.#socket.send(reply, peer.port, peer.address)));
    this.#tcp = net.createServer((conn) => this.#serveTcp(conn));
  }

  /** Bind UDP and TCP; rejects when the address is taken or not this host's. */
  async listen(): Promise<void> {
    const port = this.#o.port ?? 53;
    await new Promise<void>((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(port, this.#o.host, () => {
        this.#socket.off('error', reject);
        this.#socket.on('error', (err) => this.#o.logger.warn({ err: err.message }, 'node DNS socket error'));
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.#tcp.once('error', reject);
      this.#tcp.listen(port, this.#o.host, () => (this.#tcp.off('error', reject), resolve()));
    }).catch((err: unknown) => new Promise((_, reject) => this.#socket.close(() => reject(err as Error))));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    await new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
  }

  async #answer(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let packet: Packet;
    try {
      packet = dnsPacket.decode(query);
    } catch {
      return undefined;
    }
    const own = answerServiceName(packet, this.#o.addressOf);
    if (own) return own;
    const relayed = transport === 'udp' ? await forwardUdp(query, this.#o.upstreams) : await forwardTcp(query, this.#o.upstreams);
    return relayed ?? dnsPacket.encode({ id: packet.id, type: 'response', flags: (packet.flags ?? 0) | dnsPacket.RECURSION_AVAILABLE | 5, questions: packet.questions });
  }

  /** DNS over TCP: messages with a two-byte length before each, answered in turn. */
  #serveTcp(conn: net.Socket): void {
    conn.on('error', () => conn.destroy());
    conn.setTimeout(10_000, () => conn.destroy());
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    conn.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const query = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + query.length);
        chain = chain.then(async () => {
          const reply = await this.#answer(Buffer.from(query), 'tcp');
          if (reply && !conn.destroyed) conn.write(Buffer.concat([lengthOf(reply), reply]));
        });
      }
    });
  }
}

function lengthOf(message: Buffer): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(message.length);
  return b;
}

/**
 * The answer for a query about `NAME.service.berth` whose service has an address, or about any
 * name under `network.berth` (this node's own zone: one it does not know is NXDOMAIN, so that a
 * resolver goes on to the next search domain, which it would not after a relayed REFUSED);
 * undefined for any other query.
 */
export function answerServiceName(packet: Packet, addressOf: (service: string) => string | undefined): Buffer | undefined {
  const q = packet.questions?.length === 1 ? packet.questions[0] : undefined;
  const scoped = q ? SCOPED_NAME.exec(q.name) : undefined;
  const name = (scoped ? `${scoped[1]}--${scoped[2]}` : q ? SERVICE_NAME.exec(q.name)?.[1] : undefined)?.toLowerCase();
  const address = name ? addressOf(name) : undefined;
  // RD copied, RA set.
  const flags = ((packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER;
  if (q && !address && NETWORK_ZONE.test(q.name)) return dnsPacket.encode({ id: packet.id, type: 'response', flags: flags | NXDOMAIN, questions: [q] });
  if (!q || !address || (q.type !== 'A' && q.type !== 'AAAA')) return undefined;
  // An AAAA question gets no records (NODATA): the address is IPv4.
  const answers = q.type === 'A' ? [{ type: 'A' as const, name: q.name, ttl: TTL, data: address }] : [];
  return dnsPacket.encode({ id: packet.id, type: 'response', flags, questions: [q], answers });
}

/** `ip` or `ip:port` (default 53). */
function hostPort(upstream: string): { host: string; port: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(upstream)!;
  return { host: m[1], port: Number(m[2] ?? 53) };
}

/** Relay a raw query over TCP to the first upstream that answers within the timeout. */
async function forwardTcp(query: Buffer, upstreams: readonly string[]): Promise<Buffer | undefined> {
  for (const up of upstreams) {
    const answer = await new Promise<Buffer | undefined>((resolve) => {
      const { host, port } = hostPort(up);
      const sock = net.connect({ host, port, timeout: FORWARD_TIMEOUT_MS });
      let got = Buffer.alloc(0);
      const done = (b: Buffer | undefined): void => {
        sock.destroy();
        resolve(b);
      };
      sock.on('connect', () => sock.write(Buffer.concat([lengthOf(query), query])));
      sock.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) done(got.subarray(2, 2 + got.readUInt16BE(0)));
      });
      sock.on('timeout', () => done(undefined));
      sock.on('error', () => done(undefined));
      sock.on('close', () => done(undefined));
    });
    if (answer) return answer;
  }
  return undefined;
}

/** Relay a raw query to the first upstream that answers within the timeout. */
async function forwardUdp(query: Buffer, upstreams: readonly string[]): Promise<Buffer | undefined> {
  for (const up of upstreams) {
    const { host, port } = hostPort(up);
    const answer = await new Promise<Buffer | undefined>((resolve) => {
      const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      const done = (b: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.close();
        resolve(b);
      };
      const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
      sock.on('message', (msg) => done(msg));
      sock.on('error', () => done(undefined));
      sock.send(query, port, host);
    });
    if (answer) return answer;
  }
  return undefined;
}
