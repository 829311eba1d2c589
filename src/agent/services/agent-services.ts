/**
 * What the agent does for services beyond running checks: upstream listeners for the tasks that
 * declare them, and (with `serviceAddresses`) every service's address on this node with a DNS
 * responder on the docker bridge that answers it to containers. See ../README.md, "Services".
 */
import dns from 'node:dns';
import type { BerthClient } from '../../api/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import { NodeDns } from './node-dns.ts';
import { PassingFeeds } from './passing-feeds.ts';
import { ServiceAddressProxy } from './service-address-proxy.ts';
import { UpstreamListeners } from './upstream-listeners.ts';

/** Options of AgentServices. */
export interface AgentServicesOptions {
  client: BerthClient;
  clock: Clock;
  logger: Logger;
  /** The docker bridge's gateway (the driver's fingerprint); absent: containers get no upstreams or node DNS. */
  bridgeAddress?: string;
  /** Listen on every service address and answer them to containers. Default false. */
  serviceAddresses?: boolean;
  /** Where the node DNS relays other queries: `--task-dns`, else the host's resolvers. */
  dnsUpstreams?: string[];
  /** The node DNS's port (tests); default 53. */
  dnsPort?: number;
}

/** The DNS a container gets: servers and search domains. */
export interface ContainerDns {
  servers: string[];
  search: string[];
}

/** The agent's service plumbing: passing-instance feeds, upstream listeners, service addresses, node DNS. */
export class AgentServices {
  readonly feeds: PassingFeeds;
  readonly upstreams: UpstreamListeners;
  readonly proxy: ServiceAddressProxy | undefined;
  readonly bridgeAddress: string | undefined;
  #dns: NodeDns | undefined;

  private constructor(o: AgentServicesOptions) {
    this.feeds = new PassingFeeds({ servers: o.client.servers, clock: o.clock, logger: o.logger });
    this.upstreams = new UpstreamListeners(this.feeds, o.logger);
    this.proxy = o.serviceAddresses ? new ServiceAddressProxy({ client: o.client, feeds: this.feeds, clock: o.clock, logger: o.logger }) : undefined;
    this.bridgeAddress = o.bridgeAddress;
  }

  /** Start following; with service addresses and a bridge, bind the node DNS (a failure is logged, and containers keep their DNS). */
  static async start(o: AgentServicesOptions): Promise<AgentServices> {
    const services = new AgentServices(o);
    services.proxy?.start();
    if (services.proxy && o.bridgeAddress) {
      const proxy = services.proxy;
      const nodeDns = new NodeDns({ host: o.bridgeAddress, port: o.dnsPort, addressOf: (s) => proxy.addressOf(s), upstreams: o.dnsUpstreams?.length ? o.dnsUpstreams : dns.getServers(), logger: o.logger });
      try {
        await nodeDns.listen();
        services.#dns = nodeDns;
      } catch (err) {
        o.logger.warn({ address: `${o.bridgeAddress}:${o.dnsPort ?? 53}`, err: (err as Error).message }, 'cannot start the node DNS on the docker bridge: containers resolve service names only through their own DNS servers');
      }
    }
    return services;
  }

  /** The DNS containers get, when the node DNS runs and containers reach the service addresses. */
  containerDns(): ContainerDns | undefined {
    if (!this.#dns || !this.bridgeAddress || !this.proxy?.containersReach) return undefined;
    return { servers: [this.bridgeAddress], search: ['service.berth'] };
  }

  async stop(): Promise<void> {
    await this.#dns?.close();
    await this.proxy?.stop();
    await this.upstreams.close();
    this.feeds.close();
  }
}
