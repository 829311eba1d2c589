import type { Logger } from '../../lib/index.ts';
import { IngressRouter, ServiceListener } from '../../proxy/index.ts';
import type { IngressDataPath } from './data-path.ts';
import { formatAddress, type IngressPlan, type ListenAddress } from './ingress-plan.ts';

/** Options of the built-in data path. */
export interface BuiltinIngressOptions {
  /** The HTTP addresses; TCP routes listen on each of their hosts. */
  addresses: ListenAddress[];
  logger: Logger;
}

interface TcpListener {
  service: string;
  listener: ServiceListener;
}

/**
 * berth's own data path (proxy/): one IngressRouter per HTTP address, one ServiceListener per
 * TCP route and ingress host. Routes and endpoints are set in place, so open connections to
 * instances that stay are never touched.
 */
export class BuiltinIngress implements IngressDataPath {
  readonly name = 'builtin';
  readonly #o: BuiltinIngressOptions;
  readonly #routers: IngressRouter[] = [];
  readonly #tcp = new Map<string, TcpListener>();
  readonly #services = new Set<string>();

  constructor(options: BuiltinIngressOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    for (const a of this.#o.addresses) {
      const router = new IngressRouter({ host: a.host, port: a.port });
      await router.listen().catch((err: NodeJS.ErrnoException) => {
        throw new Error(`cannot listen on ${formatAddress(a)} (${bindFailure(err)}); pick another address with --ingress`);
      });
      this.#routers.push(router);
    }
  }

  async apply(plan: IngressPlan): Promise<void> {
    for (const router of this.#routers) router.setRoutes(plan.http);
    const gone = new Set(this.#services);
    for (const [service, endpoints] of plan.endpoints) {
      gone.delete(service);
      this.#services.add(service);
      for (const router of this.#routers) router.setEndpoints(service, endpoints);
    }
    for (const service of gone) {
      this.#services.delete(service);
      for (const router of this.#routers) router.setEndpoints(service, []);
    }
    await this.#applyTcp(plan);
  }

  async #applyTcp(plan: IngressPlan): Promise<void> {
    const hosts = [...new Set(this.#o.addresses.map((a) => a.host))];
    const wanted = new Map(plan.tcp.flatMap((r) => hosts.map((host) => [formatAddress({ host, port: r.port }), { ...r, host }] as const)));
    for (const [key, l] of this.#tcp) {
      if (wanted.get(key)?.service === l.service) continue;
      this.#tcp.delete(key);
      await l.listener.close();
    }
    for (const [key, r] of wanted) {
      let l = this.#tcp.get(key);
      if (!l) {
        const listener = new ServiceListener({ host: r.host, port: r.port });
        try {
          await listener.listen();
        } catch (err) {
          // Tried again on the next change; `berth ingress status` shows the route, the log says why it is not served here.
          this.#o.logger.error({ address: key, service: r.service }, `ingress: cannot listen on ${key} for service "${r.service}" (${bindFailure(err as NodeJS.ErrnoException)})`);
          continue;
        }
        l = { service: r.service, listener };
        this.#tcp.set(key, l);
      }
      l.listener.setEndpoints(plan.endpoints.get(r.service) ?? []);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#routers.map((r) => r.close()), ...[...this.#tcp.values()].map((l) => l.listener.close())]);
    this.#tcp.clear();
  }
}

/** Why a bind failed, in words. */
export function bindFailure(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'the port is in use';
  if (err.code === 'EADDRNOTAVAIL') return 'it is not an address of this host';
  if (err.code === 'EACCES') return 'a port below 1024 needs root or CAP_NET_BIND_SERVICE';
  return err.message;
}
