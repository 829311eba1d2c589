/**
 * The agent's per-node proxy for service addresses (kube-proxy's shape, without iptables): for
 * each service the servers gave an address, the address on `lo` and one ServiceListener per port
 * bound to it, fed with the service's passing instances anywhere in the cluster. No process per
 * connection, nothing on a public interface. Without CAP_NET_ADMIN the agent says so once and
 * binds each service to a 127.x address instead (127.<last three bytes of its address>), which
 * process tasks on this host reach and containers do not.
 */
import type { BerthClient } from '../../api/index.ts';
import { backoffDelay, type Clock, type Logger } from '../../lib/index.ts';
import type { ServiceAddress } from '../../model/index.ts';
import { ServiceListener, type Endpoint } from '../../proxy/index.ts';
import { LoopbackAddresses } from './loopback-addresses.ts';
import type { PassingFeeds } from './passing-feeds.ts';

/** What the proxy needs of the agent. */
export interface ServiceAddressProxyDeps {
  client: BerthClient;
  feeds: PassingFeeds;
  clock: Clock;
  logger: Logger;
  /** Where addresses are added; default `lo` through `ip`. */
  loopback?: Pick<LoopbackAddresses, 'add' | 'removeAll'>;
}

interface Served {
  row: ServiceAddress;
  /** The address the listeners are bound to: the service address, or its 127.x stand-in. */
  bind: string;
  listeners: Map<number, ServiceListener>;
  /** The service's passing instances, as last heard. */
  endpoints: Endpoint[];
  unsubscribe: () => void;
}

/** Retries after a failed query: from 1 s to 30 s apart; only the first failure in a row is logged. */
const RETRY = { baseMs: 1000, maxMs: 30_000 };

/** Listens on every service address of the cluster on this node. */
export class ServiceAddressProxy {
  readonly #deps: ServiceAddressProxyDeps;
  readonly #loopback: Pick<LoopbackAddresses, 'add' | 'removeAll'>;
  readonly #served = new Map<string, Served>();
  readonly #stop = new AbortController();
  /** Why service addresses cannot be added to `lo`, once known: every service then binds a 127.x address. */
  #fallback: string | undefined;
  #loop: Promise<void> | undefined;

  constructor(deps: ServiceAddressProxyDeps) {
    this.#deps = deps;
    this.#loopback = deps.loopback ?? new LoopbackAddresses();
  }

  /** Begin following the service addresses. */
  start(): void {
    this.#loop ??= this.#follow();
  }

  /**
   * The address a service answers on from this node's tasks, or undefined when it has none (yet)
   * or no port is listened on there (a dynamic port without `to`): its name is then left to
   * berth's DNS, which answers the instances.
   */
  addressOf(service: string): string | undefined {
    const served = this.#served.get(service);
    return served && served.listeners.size > 0 ? served.bind : undefined;
  }

  /** Whether containers can reach the service addresses (false in the 127.x fallback). */
  get containersReach(): boolean {
    return this.#fallback === undefined;
  }

  /** Counters of every listener, by `service:port`, for status and tests. */
  stats(): Record<string, ReturnType<ServiceListener['stats']>> {
    const out: Record<string, ReturnType<ServiceListener['stats']>> = {};
    for (const s of this.#served.values()) for (const [port, l] of s.listeners) out[`${s.row.service}:${port}`] = l.stats();
    return out;
  }

  /** Stop following, close every listener (and its connections), remove the addresses added. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    const served = [...this.#served.values()];
    this.#served.clear();
    for (const s of served) s.unsubscribe();
    await Promise.all(served.flatMap((s) => [...s.listeners.values()].map((l) => l.close())));
    await this.#loopback.removeAll();
  }

  async #follow(): Promise<void> {
    const signal = this.#stop.signal;
    let index = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const answer = await this.#deps.client.serviceAddresses({ index, waitMs: 300_000, signal });
        index = answer.index < index ? 0 : answer.index;
        failures = 0;
        for (const row of answer.value) await this.#serve(row);
      } catch (err) {
        if (signal.aborted) return;
        if (failures === 0) this.#deps.logger.warn({ err: (err as Error).message }, 'cannot read the service addresses; retrying');
        index = 0;
        await this.#deps.clock.sleep(backoffDelay(failures++, RETRY), signal).catch(() => undefined);
      }
    }
  }

  /** Serve a row: its address and a listener on each port not served yet. */
  async #serve(row: ServiceAddress): Promise<void> {
    let served = this.#served.get(row.service);
    if (!served) {
      const bind = await this.#bindAddress(row.address);
      served = { row, bind, listeners: new Map(), endpoints: [], unsubscribe: () => undefined };
      const s = served;
      this.#served.set(row.service, s);
      s.unsubscribe = this.#deps.feeds.subscribe(row.service, undefined, (endpoints) => {
        s.endpoints = endpoints;
        for (const l of s.listeners.values()) l.setEndpoints(endpoints);
      });
    }
    served.row = row;
    for (const port of row.ports) {
      if (served.listeners.has(port) || this.#stop.signal.aborted) continue;
      const listener = new ServiceListener({ host: served.bind, port });
      try {
        await listener.listen();
      } catch (err) {
        // Another agent on this host (tests run several) already serves it: the same endpoints.
        this.#deps.logger.warn({ service: row.service, address: `${served.bind}:${port}`, err: (err as Error).message }, 'cannot listen on a service address');
        continue;
      }
      if (this.#stop.signal.aborted) {
        await listener.close();
        return;
      }
      served.listeners.set(port, listener);
      listener.setEndpoints(served.endpoints);
    }
  }

  async #bindAddress(address: string): Promise<string> {
    if (this.#fallback === undefined) {
      const added = await this.#loopback.add(address);
      if (added.ok) return address;
      this.#fallback = added.reason;
      this.#deps.logger.warn(
        { reason: added.reason },
        'cannot add service addresses to lo: services answer on 127.x addresses instead, which process tasks on this node reach and containers do not; run the agent as root or with CAP_NET_ADMIN',
      );
    }
    return fallbackAddress(address);
  }
}

/** 127.<the last three bytes of the address>: loopback, local to this host. */
export function fallbackAddress(address: string): string {
  const [, b, c, d] = address.split('.');
  return `127.${b}.${c}.${d}`;
}
