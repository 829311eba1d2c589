import type { Logger } from '../../lib/index.ts';
import { IngressRouter, ServiceListener } from '../../proxy/index.ts';
import type { IngressDataPath } from './data-path.ts';
import { formatAddress, type IngressPlan, type ListenAddress } from './ingress-plan.ts';

/** Options of the built-in data path. */
export interface BuiltinIngressOptions {
  /** The HTTP addresses; TCP routes listen on each of their hosts. */
  addresses: ListenAddress[];
  logger: Logger;
  /** Time a client has to send a request, and an instance to start its answer (`--ingress-request-timeout`). Default 60 s. */
  requestTimeoutMs?: number;
  /** How long a keep-alive or TCP connection may sit idle (`--ingress-idle-timeout`). Default 60 s. */
  idleTimeoutMs?: number;
  /** The first wait before a TCP route's port that could not be bound is tried again; doubled each time, up to 30 s. Default 1 s. */
  retryBaseMs?: number;
}

/** The longest wait between two tries at binding a TCP route's port. */
const RETRY_MAX_MS = 30_000;

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
  /** TCP route addresses that could not be bound: the tries so far and the timer of the next. */
  readonly #retries = new Map<string, { tries: number; timer: NodeJS.Timeout | undefined }>();
  #plan: IngressPlan = { http: [], tcp: [], endpoints: new Map() };
  /** TCP listener changes, one at a time (a plan's, or a retry's). */
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: BuiltinIngressOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    for (const a of this.#o.addresses) {
      const router = new IngressRouter({ host: a.host, port: a.port, requestTimeoutMs: this.#o.requestTimeoutMs, idleTimeoutMs: this.#o.idleTimeoutMs });
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
    this.#plan = plan;
    await this.#syncTcp();
  }

  /** Bring the TCP listeners in line with the latest plan, after any change under way. */
  #syncTcp(): Promise<void> {
    this.#tail = this.#tail
      .then(() => (this.#closed ? undefined : this.#applyTcp(this.#plan)))
      .catch((err: unknown) => this.#o.logger.error({ err: (err as Error).message }, 'ingress: cannot update the TCP routes'));
    return this.#tail;
  }

  async #applyTcp(plan: IngressPlan): Promise<void> {
    const hosts = [...new Set(this.#o.addresses.map((a) => a.host))];
    const wanted = new Map(plan.tcp.flatMap((r) => hosts.map((host) => [formatAddress({ host, port: r.port }), { ...r, host }] as const)));
    for (const [key, l] of this.#tcp) {
      if (wanted.get(key)?.service === l.service) continue;
      this.#tcp.delete(key);
      await l.listener.close();
    }
    for (const [key, retry] of this.#retries) {
      if (wanted.has(key)) continue;
      clearTimeout(retry.timer);
      this.#retries.delete(key);
    }
    for (const [key, r] of wanted) {
      let l = this.#tcp.get(key);
      if (!l) {
        const listener = new ServiceListener({ host: r.host, port: r.port, idleTimeoutMs: this.#o.idleTimeoutMs ?? DEFAULT_IDLE_MS });
        try {
          await listener.listen();
        } catch (err) {
          this.#retryLater(key, r.service, err as NodeJS.ErrnoException);
          continue;
        }
        if (this.#retries.has(key)) this.#o.logger.info({ address: key, service: r.service }, `ingress: now listening on ${key} for service "${r.service}"`);
        clearTimeout(this.#retries.get(key)?.timer);
        this.#retries.delete(key);
        l = { service: r.service, listener };
        this.#tcp.set(key, l);
      }
      l.listener.setEndpoints(plan.endpoints.get(r.service) ?? []);
    }
  }

  /**
   * A TCP route's port could not be bound (another process holds it, say): try again after 1 s,
   * 2 s, 4 s ... up to 30 s, and at every plan change, until it binds or the route goes.
   * `berth ingress status` shows the route meanwhile; the log says why it is not served here.
   */
  #retryLater(key: string, service: string, err: NodeJS.ErrnoException): void {
    const retry = this.#retries.get(key) ?? { tries: 0, timer: undefined };
    if (retry.timer) return;
    retry.tries++;
    const delay = Math.min((this.#o.retryBaseMs ?? 1000) * 2 ** (retry.tries - 1), RETRY_MAX_MS);
    this.#o.logger[retry.tries === 1 ? 'error' : 'warn']({ address: key, service, tries: retry.tries }, `ingress: cannot listen on ${key} for service "${service}" (${bindFailure(err)}); trying again in ${delay} ms`);
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      void this.#syncTcp();
    }, delay);
    retry.timer.unref();
    this.#retries.set(key, retry);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const retry of this.#retries.values()) clearTimeout(retry.timer);
    this.#retries.clear();
    await this.#tail;
    await Promise.all([...this.#routers.map((r) => r.close()), ...[...this.#tcp.values()].map((l) => l.listener.close())]);
    this.#tcp.clear();
  }
}

/** As the router's (proxy/ingress-router.ts). */
const DEFAULT_IDLE_MS = 60_000;

/** Why a bind failed, in words. */
export function bindFailure(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'the port is in use';
  if (err.code === 'EADDRNOTAVAIL') return 'it is not an address of this host';
  if (err.code === 'EACCES') return 'a port below 1024 needs root or CAP_NET_BIND_SERVICE';
  return err.message;
}
