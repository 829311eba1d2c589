/**
 * The node's DNS responder for its containers (docker's `Dns` = the bridge gateway, where it
 * listens): `NAME.service.berth` (A) answers the service's address, the same on every node, so
 * `db.service.berth:5432` reaches a passing instance anywhere; every other query is relayed as
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

/** A UDP DNS responder for one node's containers. */
export class NodeDns {
  readonly #o: NodeDnsOptions;
  readonly #socket: dgram.Socket;

  constructor(options: NodeDnsOptions) {
    this.#o = options;
    this.#socket = dgram.createSocket(net.isIPv6(options.host) ? 'udp6' : 'udp4');
    this.#socket.on('message', (query, peer) => void this.#answer(query).then((reply) => reply && this.#socket.send(reply, peer.port, peer.address)));
  }

  /** Bind; rejects when the address is taken or not this host's. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(this.#o.port ?? 53, this.#o.host, () => {
        this.#socket.off('error', reject);
        this.#socket.on('error', (err) => this.#o.logger.warn({ err: err.message }, 'node DNS socket error'));
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  async #answer(query: Buffer): Promise<Buffer | undefined> {
    let packet: Packet;
    try {
      packet = dnsPacket.decode(query);
    } catch {
      return undefined;
    }
    const own = answerServiceName(packet, this.#o.addressOf);
    if (own) return own;
    return (await forward(query, this.#o.upstreams)) ?? dnsPacket.encode({ id: packet.id, type: 'response', flags: (packet.flags ?? 0) | dnsPacket.RECURSION_AVAILABLE | 5, questions: packet.questions });
  }
}

/** The answer for a query about `NAME.service.berth` whose service has an address; undefined for any other query. */
export function answerServiceName(packet: Packet, addressOf: (service: string) => string | undefined): Buffer | undefined {
  const q = packet.questions?.length === 1 ? packet.questions[0] : undefined;
  const name = q ? SERVICE_NAME.exec(q.name)?.[1]?.toLowerCase() : undefined;
  const address = name ? addressOf(name) : undefined;
  if (!q || !address || (q.type !== 'A' && q.type !== 'AAAA')) return undefined;
  // RD copied, RA set; an AAAA question gets no records (NODATA): the address is IPv4.
  const flags = ((packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER;
  const answers = q.type === 'A' ? [{ type: 'A' as const, name: q.name, ttl: TTL, data: address }] : [];
  return dnsPacket.encode({ id: packet.id, type: 'response', flags, questions: [q], answers });
}

/** Relay a raw query to the first upstream that answers within the timeout. */
async function forward(query: Buffer, upstreams: readonly string[]): Promise<Buffer | undefined> {
  for (const up of upstreams) {
    const m = /^(.*?)(?::(\d+))?$/.exec(up)!;
    const host = m[1];
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
      sock.send(query, Number(m[2] ?? 53), host);
    });
    if (answer) return answer;
  }
  return undefined;
}
