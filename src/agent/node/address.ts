import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import net from 'node:net';

/** True for 127.0.0.0/8, ::1 and `localhost`: an address no other host can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/** The host of a server URL, without IPv6 brackets. */
export function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The local address this host sends from to reach `serverUrl`: the address of the interface the
 * kernel routes that traffic through. A connected UDP socket makes the kernel choose the route and
 * the source address without sending a packet, so it works before the server is up. (Node has no
 * route-lookup call and no library of ours does this, hence by hand.)
 */
export async function routeSourceAddress(serverUrl: string): Promise<string> {
  const url = new URL(serverUrl);
  const host = hostOf(serverUrl);
  const ip = net.isIP(host) ? host : (await dns.lookup(host)).address;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const socket = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, ip, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/** What the agent advertises and where its own endpoint listens. */
export interface NodeAddresses {
  /** Where other hosts reach this node's task ports (the node's `address`). */
  address: string;
  /** Where the agent's endpoint (logs, exec, stats) listens. */
  httpHost: string;
}

/** The operator's settings and where the servers are. */
export interface AddressInput {
  /** A server on another host (its address is not loopback), if any. */
  remoteServer?: string;
  /** `--address`; default: the address of the interface that reaches the first server. */
  address?: string;
  /** `--http-addr`'s host; default: the same interface's address. */
  httpHost?: string;
  /** The local address routed towards the first server (from `routeSourceAddress`). */
  routeSource: string;
}

/**
 * The node's addresses (`nodeAddresses`), finding the route towards the first server when a
 * setting is left out; a route that cannot be found is an error that says which flags to give.
 */
export async function resolveNodeAddresses(input: { servers: readonly string[]; address?: string; httpHost?: string }): Promise<{ ok: true; value: NodeAddresses } | { ok: false; error: string }> {
  let routeSource = input.address ?? input.httpHost ?? '';
  if (input.address === undefined || input.httpHost === undefined) {
    const server = input.servers[0];
    try {
      routeSource = await routeSourceAddress(server);
    } catch (err) {
      return { ok: false, error: `Cannot start the agent: cannot find the address this host reaches the server ${server} from (${(err as Error).message}); check --server, or give --address and --http-addr` };
    }
  }
  const remote = await Promise.all(input.servers.map(async (s) => ((await isRemote(s)) ? s : undefined)));
  return nodeAddresses({ address: input.address, httpHost: input.httpHost, routeSource, remoteServer: remote.find(Boolean) });
}

/**
 * True when a server's address is not loopback. A name is resolved first: on many hosts the
 * host's own name resolves to 127.0.1.1. A name that does not resolve is not held against the agent.
 */
async function isRemote(serverUrl: string): Promise<boolean> {
  const host = hostOf(serverUrl);
  if (net.isIP(host) || isLoopback(host)) return !isLoopback(host);
  const addresses = await dns.lookup(host, { all: true }).catch(() => []);
  return addresses.length > 0 && addresses.every((a) => !isLoopback(a.address));
}

/**
 * The node's addresses: the settings, or the address of the interface that reaches the server.
 * Refuses a loopback address when a server is on another host: the server could not reach the
 * agent there for logs and exec, nor other hosts its tasks. Pure.
 */
export function nodeAddresses(input: AddressInput): { ok: true; value: NodeAddresses } | { ok: false; error: string } {
  const address = input.address ?? input.routeSource;
  const httpHost = input.httpHost ?? input.routeSource;
  const remote = input.remoteServer;
  if (remote) {
    const fix = isLoopback(input.routeSource)
      ? "give this host's address with --address"
      : `leave the flag out to use ${input.routeSource}, the address of the interface that reaches the server, or give another of this host's addresses`;
    if (isLoopback(address)) {
      return { ok: false, error: `Cannot start the agent: --address ${address} is a loopback address, but the server ${remote} is on another host, which cannot reach this node's tasks there; ${fix}` };
    }
    if (isLoopback(httpHost)) {
      return { ok: false, error: `Cannot start the agent: --http-addr ${httpHost} is a loopback address, but the server ${remote} is on another host and reaches the agent there for logs, exec and stats; ${fix.replace('--address', '--http-addr')}` };
    }
  }
  return { ok: true, value: { address, httpHost } };
}
