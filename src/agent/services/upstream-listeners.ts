/**
 * The listeners of upstreams (`upstreams: [{service, local_bind_port}]`): one ServiceListener per
 * bound address, shared by every task on this node that declares the same upstream there (two
 * allocations of a group on one node share loopback), with the upstream's balancing, connect
 * timeout, retries and outlier ejection, fed with the passing instances of its service.
 */
import type { Logger } from '../../lib/index.ts';
import type { UpstreamSpec } from '../../model/index.ts';
import { ServiceListener } from '../../proxy/index.ts';
import type { PassingFeeds } from './passing-feeds.ts';

interface Shared {
  key: string;
  listener: ServiceListener;
  ready: Promise<void>;
  users: number;
  unsubscribe: () => void;
}

/** The environment variable that gives a task an upstream's `host:port`. */
export function upstreamEnvName(service: string): string {
  return `BERTH_UPSTREAM_ADDR_${service.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Every upstream listener of this node, by bound address. */
export class UpstreamListeners {
  readonly #feeds: PassingFeeds;
  readonly #logger: Logger;
  readonly #byAddress = new Map<string, Shared>();

  constructor(feeds: PassingFeeds, logger: Logger) {
    this.#feeds = feeds;
    this.#logger = logger;
  }

  /**
   * Listen for an upstream on `host:localBindPort` (or join the listener already there for the
   * same upstream); resolves with the function that lets go of it. Rejects when another upstream
   * holds the address or it cannot be bound.
   */
  async acquire(spec: UpstreamSpec, host: string): Promise<() => Promise<void>> {
    const address = `${host}:${spec.localBindPort}`;
    const key = JSON.stringify([spec.service, spec.datacenter ?? '', spec.policy, spec.connectTimeoutMs, spec.retries, spec.outlier]);
    let shared = this.#byAddress.get(address);
    if (shared && shared.key !== key) {
      throw new Error(`Cannot listen for upstream "${spec.service}" on ${address}: another allocation on this node has an upstream with other settings there; give one of them another local_bind_port`);
    }
    if (!shared) shared = this.#open(address, key, spec, host);
    shared.users++;
    try {
      await shared.ready;
    } catch (err) {
      await this.#release(address, shared);
      throw err;
    }
    const s = shared;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.#release(address, s);
    };
  }

  /** Counters of every listener, by address. */
  stats(): Record<string, ReturnType<ServiceListener['stats']>> {
    return Object.fromEntries([...this.#byAddress].map(([a, s]) => [a, s.listener.stats()]));
  }

  #open(address: string, key: string, spec: UpstreamSpec, host: string): Shared {
    const listener = new ServiceListener({
      host,
      port: spec.localBindPort,
      policy: spec.policy,
      connectTimeoutMs: spec.connectTimeoutMs,
      retries: spec.retries,
      outlier: spec.outlier,
    });
    const ready = listener.listen().then(
      () => undefined,
      (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'the port is in use on this node' : err.code === 'EADDRNOTAVAIL' ? 'it is not an address of this node' : err.message;
        throw new Error(`Cannot listen for upstream "${spec.service}" on ${address}: ${why}; pick another local_bind_port`);
      },
    );
    const shared: Shared = { key, listener, ready, users: 0, unsubscribe: () => undefined };
    shared.unsubscribe = this.#feeds.subscribe(spec.service, spec.datacenter, (endpoints) => listener.setEndpoints(endpoints));
    this.#byAddress.set(address, shared);
    this.#logger.debug({ upstream: spec.service, address }, 'upstream listener opened');
    return shared;
  }

  async #release(address: string, shared: Shared): Promise<void> {
    if (--shared.users > 0) return;
    if (this.#byAddress.get(address) === shared) this.#byAddress.delete(address);
    shared.unsubscribe();
    await shared.listener.close();
  }

  /** Close every listener. */
  async close(): Promise<void> {
    const all = [...this.#byAddress.values()];
    this.#byAddress.clear();
    for (const s of all) s.unsubscribe();
    await Promise.all(all.map((s) => s.listener.close()));
  }
}
