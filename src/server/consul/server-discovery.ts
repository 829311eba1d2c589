/**
 * The server's discovery role: the catalog sync loop, external registrations with TTL expiry,
 * and the DNS server, started and stopped with the server.
 */
import os from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import { Catalog, CatalogRegistry, CatalogSync, ExternalChecks, type LocalNode } from '../../discovery/catalog/index.ts';
import { CatalogZone, DnsCluster, DnsServer, type DnsStats } from '../../discovery/dns/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';

/** Discovery settings of a server. */
export interface DiscoveryOptions {
  /** The node external services register on (the server's own). Default: the host name. */
  nodeName?: string;
  /** Default dc1. */
  datacenter?: string;
  /** The address of the server's node. Default 127.0.0.1. */
  address?: string;
  /** Serve DNS; absent: no DNS server. */
  dns?: DnsOptions;
}

/** DNS settings of a server. */
export interface DnsOptions {
  /** Addresses to listen on (UDP and TCP). Default ['127.0.0.1']. */
  hosts?: string[];
  /** Default 7453; 0 picks a free port. */
  port?: number;
  /** Default 'berth'. */
  domain?: string;
  /** Answer `consul.` too, for drop-in use. Default false. */
  consulDomain?: boolean;
  /** Answer TTL, seconds. Default 0. */
  ttl?: number;
  /** Upstream resolvers for other names; none: REFUSED. */
  recursors?: string[];
  /** The address is a default, not asked for: when it is taken, run without DNS. Default false. */
  optional?: boolean;
  /** Serve from this many worker processes (to use every core); 0 or 1: in this process. Default 0. */
  workers?: number;
  /** Also serve `<bridge>:53`, where containers on the docker bridge reach the host (best effort). */
  bridge?: string;
}

/** The running discovery parts of a server. */
export class ServerDiscovery {
  readonly catalog: Catalog;
  readonly registry: CatalogRegistry;
  readonly sync: CatalogSync;
  readonly externalChecks: ExternalChecks;
  /** The DNS server, once started with DNS options. */
  dns: DnsServer | undefined;
  /** The DNS worker processes, when DNS runs in several. */
  dnsCluster: DnsCluster | undefined;
  /** The DNS server on the docker bridge, port 53, when one could be started. */
  bridgeDns: DnsServer | undefined;
  readonly #zone: CatalogZone;
  readonly #options: DiscoveryOptions;
  readonly #log: Logger;

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger }, options: DiscoveryOptions = {}) {
    const { view, store, clock, logger } = deps;
    const name = options.nodeName ?? os.hostname();
    const node: LocalNode = { id: name, name, address: options.address ?? '127.0.0.1', datacenter: options.datacenter ?? 'dc1' };
    const log = logger.child({ component: 'discovery' });
    this.catalog = new Catalog(view, node);
    this.registry = new CatalogRegistry({ view, store, node, clock, logger: log });
    this.sync = new CatalogSync({ view, store, clock, logger: log });
    this.#zone = new CatalogZone(this.catalog);
    this.externalChecks = new ExternalChecks(view, this.registry);
    this.#options = options;
    this.#log = log;
  }

  /** DNS counters in `/v1/metrics`: `berth_dns_queries{result}` (read at scrape time). */
  registerMetrics(registry: Registry): void {
    const stats = async (): Promise<DnsStats | undefined> => this.dns?.stats ?? (this.dnsCluster ? await this.dnsCluster.stats() : undefined);
    new Gauge({
      name: 'berth_dns_queries',
      help: 'DNS messages received since start, by outcome (malformed ones are dropped)',
      labelNames: ['result'],
      registers: [registry],
      async collect() {
        for (const [result, n] of Object.entries((await stats()) ?? {})) this.set({ result }, n);
      },
    });
  }

  /** The port DNS is served on, 0 when it is not. */
  get dnsPort(): number {
    return this.dns?.port ?? this.dnsCluster?.port ?? 0;
  }

  /** The bridge address DNS answers containers on, when it does. */
  get bridgeAddress(): string | undefined {
    return this.bridgeDns ? this.#options.dns?.bridge : undefined;
  }

  /** Start what every server runs: DNS and the checks of services registered on its node. */
  async start(): Promise<void> {
    this.externalChecks.start();
    const dns = this.#options.dns;
    if (!dns) return;
    const domains = [dns.domain ?? 'berth', ...(dns.consulDomain ? ['consul'] : [])];
    const base = { domains, ttl: dns.ttl, recursors: dns.recursors, zone: () => this.#zone.get(), logger: this.#log };
    try {
      if ((dns.workers ?? 0) > 1) {
        this.dnsCluster = await DnsCluster.start({ ...base, hosts: dns.hosts, port: dns.port, workers: dns.workers!, onZone: (l) => this.#zone.onZone(l) });
      } else {
        this.dns = await DnsServer.start({ ...base, hosts: dns.hosts, port: dns.port });
      }
      this.#log.info({ hosts: dns.hosts ?? ['127.0.0.1'], port: this.dnsPort, domains, workers: dns.workers ?? 0 }, 'DNS listening');
    } catch (err) {
      if (!dns.optional || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      this.#log.warn({ port: dns.port }, 'DNS not served: the default port is in use (pick one with --dns-addr)');
    }
    if (dns.bridge) {
      try {
        this.bridgeDns = await DnsServer.start({ ...base, hosts: [dns.bridge], port: 53 });
        this.#log.info({ address: `${dns.bridge}:53` }, 'DNS listening for containers');
      } catch (err) {
        this.#log.warn({ err, address: `${dns.bridge}:53` }, 'DNS not served to containers: cannot listen on the bridge');
      }
    }
  }

  /** Start what writes on its own (the leader): the catalog sync and TTL expiry. */
  lead(): void {
    this.sync.start();
    this.registry.start();
  }

  /** Stop what `lead` started. */
  unlead(): void {
    this.sync.stop();
    this.registry.stop();
  }

  async stop(): Promise<void> {
    await this.dns?.stop();
    await this.dnsCluster?.stop();
    await this.bridgeDns?.stop();
    this.#zone.close();
    this.sync.stop();
    this.registry.stop();
    this.externalChecks.stop();
    await this.sync.idle();
  }
}
