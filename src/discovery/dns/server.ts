/**
 * The DNS server: UDP and TCP on one address (default port 7453), answering from the zone through
 * a DnsHandler, optionally forwarding other zones to upstream resolvers. Several addresses may be
 * served (the docker bridge's, so that containers reach it).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../../lib/index.ts';
import { serveDatagrams } from './datagrams.ts';
import { DnsHandler, type DnsStats, type Forwarder } from './handler.ts';
import type { DnsZoneData } from './zone.ts';

/** DNS server settings. */
export interface DnsServerOptions {
  /** Addresses to listen on. Default ['127.0.0.1']. */
  hosts?: string[];
  /** Port; 0 picks a free one (the same for UDP and TCP). Default 7453. */
  port?: number;
  /** Domains answered. Default ['berth']. */
  domains?: string[];
  /** Answer TTL in seconds. Default 0. */
  ttl?: number;
  /** Upstream resolvers (`host:port` or `host`) for names outside the domains; none: REFUSED. */
  recursors?: string[];
  /** Answer UDP through Node's public dgram API only, not its native handle (see datagrams.ts). Default false. */
  publicUdpApi?: boolean;
  /**
   * Bind the UDP socket with SO_REUSEPORT (dgram's `reusePort`, Node 22.12+ on Linux and some
   * BSDs), so that several worker processes each have their own socket on the port and the
   * kernel spreads datagrams over them, instead of sharing one socket through the cluster
   * primary. Falls back to a plain bind where the platform refuses it. Default false.
   */
  reusePort?: boolean;
  /** The zone to answer from, read per query (return the same object while nothing changed). */
  zone: () => DnsZoneData;
  logger: Logger;
}

/** Longest a TCP connection stays open without a query. */
const TCP_IDLE_MS = 10_000;
/** Tries at a port free for both UDP and TCP when asked for any. */
const FREE_PORT_ATTEMPTS = 5;
/** How long an upstream gets to answer. */
const FORWARD_TIMEOUT_MS = 2_000;

/** A running DNS server. */
export class DnsServer {
  readonly handler: DnsHandler;
  readonly #o: DnsServerOptions;
  readonly #udp: dgram.Socket[] = [];
  readonly #tcp: net.Server[] = [];
  readonly #conns = new Set<net.Socket>();
  #port = 0;

  private constructor(options: DnsServerOptions) {
    this.#o = options;
    const forward = options.recursors?.length ? forwarder(options.recursors) : undefined;
    this.handler = new DnsHandler(options.zone, { domains: (options.domains ?? ['berth']).map((d) => d.toLowerCase().replace(/^\.|\.$/g, '')), ttl: options.ttl ?? 0 }, forward);
  }

  /** Listen on every host, UDP and TCP. */
  static async start(options: DnsServerOptions): Promise<DnsServer> {
    for (let attempt = 1; ; attempt++) {
      const server = new DnsServer(options);
      try {
        let port = options.port ?? 7453;
        for (const host of options.hosts ?? ['127.0.0.1']) port = await server.#listen(host, port);
        server.#port = port;
        return server;
      } catch (err) {
        await server.stop();
        // Asked for any port: the one free for UDP may be taken for TCP; pick another.
        if (options.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < FREE_PORT_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** The port served (useful after asking for 0). */
  get port(): number {
    return this.#port;
  }

  get stats(): DnsStats {
    return this.handler.stats;
  }

  async stop(): Promise<void> {
    for (const s of this.#udp) s.close();
    for (const c of this.#conns) c.destroy();
    await Promise.all(this.#tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  async #listen(host: string, port: number): Promise<number> {
    // Replies go to the address a query came from, always an IP: skip dns.lookup and its extra
    // tick on every send, a measurable share of the per-packet cost.
    const family = net.isIPv6(host) ? 6 : 4;
    const lookup = (address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void => cb(null, address, family);
    const bindUdp = async (reusePort: boolean): Promise<dgram.Socket> => {
      const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: lookup as unknown as dgram.SocketOptions['lookup'], reusePort });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', (err) => {
          socket.close();
          reject(err);
        });
        socket.bind(port, host, () => {
          socket.removeAllListeners('error');
          resolve();
        });
      });
      return socket;
    };
    const reuse = this.#o.reusePort ?? false;
    // A platform without SO_REUSEPORT refuses the bind (ENOTSUP): share one socket then.
    const udp = await bindUdp(reuse).catch((err: NodeJS.ErrnoException) => (reuse && err.code === 'ENOTSUP' ? bindUdp(false) : Promise.reject(err)));
    this.#udp.push(udp);
    const bound = udp.address().port;
    udp.on('error', (err) => this.#o.logger.warn({ err }, 'DNS UDP socket error'));
    const out = serveDatagrams(
      udp,
      (msg, peer) => {
        // On the native handle, a send completes at once unless the socket buffer is full, so a
        // cached answer can go out as it is, its id rewritten, without a copy per query.
        const reply = this.handler.handle(msg, true, out.direct);
        if (reply === undefined) return;
        if (Buffer.isBuffer(reply)) {
          if (!out.send(reply, peer.port, peer.address) && out.direct) this.handler.unshare(reply);
        } else void reply.then((r) => r && out.send(r, peer.port, peer.address)).catch(() => undefined);
      },
      { publicApi: this.#o.publicUdpApi },
    );
    const tcp = net.createServer((conn) => this.#serveTcp(conn));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(bound, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.#tcp.push(tcp);
    return bound;
  }

  /** TCP: two-byte length before each message, several queries per connection (RFC 7766). */
  #serveTcp(conn: net.Socket): void {
    this.#conns.add(conn);
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on('close', () => this.#conns.delete(conn));
    conn.on('error', () => conn.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const size = buffered.readUInt16BE(0);
        if (buffered.length < size + 2) break;
        const msg = buffered.subarray(2, size + 2);
        buffered = buffered.subarray(size + 2);
        const send = (r: Buffer | undefined): void => {
          if (!r || conn.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(r.length);
          conn.write(Buffer.concat([len, r]));
        };
        const reply = this.handler.handle(msg, false);
        if (reply === undefined || Buffer.isBuffer(reply)) send(reply);
        else void reply.then(send).catch(() => undefined);
      }
    });
  }
}

/** Forward a raw query to the first upstream that answers. */
function forwarder(recursors: string[]): Forwarder {
  const upstreams = recursors.map((r) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(r.replace(/^\[(.*)\](:\d+)?$/, '$1$2'))!;
    return { host: m[1], port: Number(m[2] ?? 53) };
  });
  return async (query) => {
    for (const up of upstreams) {
      const answer = await new Promise<Buffer | undefined>((resolve) => {
        const sock = dgram.createSocket(net.isIPv6(up.host) ? 'udp6' : 'udp4');
        const done = (b: Buffer | undefined): void => {
          clearTimeout(timer);
          sock.close();
          resolve(b);
        };
        const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
        sock.on('message', (m) => done(m));
        sock.on('error', () => done(undefined));
        sock.send(query, up.port, up.host);
      });
      if (answer) return answer;
    }
    return undefined;
  };
}
