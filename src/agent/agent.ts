import fs from 'node:fs/promises';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { BerthClient, parseAddresses, type Transport } from '../api/index.ts';
import type { ServerTls } from '../tls/index.ts';
import type tls from 'node:tls';
import { BerthError, type Allocation, type DriverName, type Job } from '../model/index.ts';
import { DockerDriver, ProcessDriver, type DockerTlsFiles, type TaskDriver } from '../drivers/index.ts';
import { systemClock, type Clock, type Logger } from '../lib/index.ts';
import { AllocRunner } from './allocs/alloc-runner.ts';
import { LocalAllocs } from './allocs/local-allocs.ts';
import { LocalState } from './allocs/local-state.ts';
import { recoverLocal } from './allocs/recovery.ts';
import { AgentMetrics, timedDriver } from './metrics.ts';
import { LogForwarder, parseLogTarget } from './logs/log-forwarder.ts';
import { StatusReporter } from './allocs/reporter.ts';
import { watchAllocs } from './allocs/watcher.ts';
import { buildAgentApp } from './http/endpoint.ts';
import { fingerprint } from './node/fingerprint.ts';
import { loadNodeId, loadNodeSecret } from './node/node-id.ts';
import { resolveNodeAddresses } from './node/address.ts';
import { offeredResources, registrationRequest, type NodeSettings } from './node/node-settings.ts';
import { NodeRegistration } from './node/registration.ts';
import { followIngress, ingressNodeMeta, makeDataPath, type IngressDataPath, type IngressSettings } from './ingress/index.ts';
import { AgentServices } from './services/index.ts';

/** Agent settings. */
export interface AgentOptions extends NodeSettings {
  /** The server's URL. */
  serverUrl: string;
  /** Every server the agent may talk to (`serverUrl` first when both are given); it fails over between them. */
  servers?: string[];
  /** Where the agent keeps its node id, allocation records and task files. */
  dataDir: string;
  logger: Logger;
  /**
   * Where the agent's own endpoint (logs, exec, stats) listens. Default: the address of the
   * interface that reaches the first server (127.0.0.1 for a server on this host), port 0 (any free).
   */
  httpHost?: string;
  httpPort?: number;
  /** Docker engine address (DOCKER_HOST form). Default env DOCKER_HOST or the local socket. */
  dockerHost?: string;
  /** TLS to a tcp Docker engine. Default DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, else none. */
  dockerTls?: DockerTlsFiles;
  /**
   * The drivers to load, each under its `name`; default docker and process. Tests inject mocks
   * named for the drivers they stand in for (`mockDrivers()`).
   */
  drivers?: TaskDriver[];
  /** DNS servers given to docker tasks that name none: berth's DNS on the bridge. Default: Docker's. */
  dnsServers?: string[];
  /**
   * Serve every service's address on this node (the address on `lo`, a listener on each of its
   * ports) and answer `NAME.service.berth` with it to containers from a DNS responder on the docker
   * bridge, which relays other queries to `dnsServers` (else the host's resolvers). Default false.
   */
  serviceAddresses?: boolean;
  /** The node DNS's port on the bridge (tests); default 53. */
  nodeDnsPort?: number;
  /** Forward task output here: `syslog://host:514` (RFC 5424 over UDP) or `http(s)://...` (JSON lines). Default: none. */
  logForward?: string;
  clock?: Clock;
  /** The ACL token the agent uses with the servers (registration needs `nodes: write`). Default env BERTH_TOKEN. */
  token?: string;
  /** TLS of the agent's own endpoint (the server proxies logs and exec to it), reloaded by `reloadTls()`. Default plain HTTP. */
  tls?: ServerTls;
  /**
   * How the agent calls the servers: with TLS, trusting the CA, presenting the agent's
   * certificate and checking theirs names a server. `reload` is called by `reloadTls()`. Default
   * the process default (plain fetch).
   */
  transport?: Transport & { reload?: () => void };
  /** Run an ingress on this node (`--ingress`): outside traffic routed to healthy instances on any node. Default none. */
  ingress?: IngressSettings;
}

/**
 * A host: fingerprint, register and heartbeat (node/), watch the allocations placed here and run
 * them (allocs/). On stop it leaves its tasks running; the next start reattaches to them from
 * local state. This class only wires the parts together and owns their lifetimes.
 */
export class Agent {
  readonly #o: AgentOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Every server known; a call goes on to the next one when a server does not answer. */
  /** Made once the node's secret is loaded (#start): every call carries it. */
  #client!: BerthClient;
  /** Every server, parsed as the client will use them. */
  readonly #servers: string[];
  readonly #localState: LocalState;
  readonly #drivers = new Map<DriverName, TaskDriver>();
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #allocs!: LocalAllocs;
  #node!: NodeRegistration;
  #reporter!: StatusReporter;
  #http: FastifyInstance | undefined;
  #ingress: IngressDataPath | undefined;
  readonly #metrics = new AgentMetrics();
  #services: AgentServices | undefined;
  #forwarder: LogForwarder | undefined;
  nodeId = '';

  private constructor(options: AgentOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: 'agent' });
    this.#servers = parseAddresses([...new Set([options.serverUrl, ...(options.servers ?? [])].filter(Boolean))]);
    this.#localState = new LocalState(options.dataDir);
  }

  /** Start the agent: recover local tasks, register, and begin the loops. Resolves once registered. */
  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    await agent.#start();
    return agent;
  }

  get nodeName(): string {
    return this.#node.request.name;
  }

  /** The agent's service plumbing (upstream listeners, service addresses), for tests and status. */
  get services(): AgentServices | undefined {
    return this.#services;
  }

  /** The default driver this node resolved to. */
  get defaultDriver(): DriverName {
    return this.#node.request.defaultDriver;
  }

  /** The allocation runners, by allocation id (for tests and the agent endpoint). */
  get runners(): ReadonlyMap<string, AllocRunner> {
    return this.#allocs.runners;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    const signal = this.#stop.signal;
    // What can be refused is checked before anything is opened, so a refusal leaves nothing behind.
    const addresses = await resolveNodeAddresses({ servers: this.#servers, address: o.address, httpHost: o.httpHost });
    if (!addresses.ok) throw new BerthError('invalid_input', addresses.error);
    if (o.logForward) {
      const target = parseLogTarget(o.logForward);
      if (!target.ok) throw new BerthError('invalid_input', `Cannot start the agent: --log-forward ${target.error}`);
      this.#forwarder = new LogForwarder({ target: o.logForward, logger: this.#log, hostname: o.nodeName, clock: this.#clock });
      this.#metrics.follow(this.#forwarder);
    }
    const { address, httpHost } = addresses.value;
    // Every driver operation is timed (berth_agent_driver_operation_seconds).
    const drivers = (o.drivers ?? [new DockerDriver({ host: o.dockerHost, tls: o.dockerTls }), new ProcessDriver()]).map((d) => timedDriver(d, this.#metrics.driverSeconds));
    for (const d of drivers) this.#drivers.set(d.name, d);
    const facts = await fingerprint(drivers);
    const offered = offeredResources(facts.resources, o.reserved);
    if (!offered.ok) throw new BerthError('invalid_input', offered.error);
    await fs.mkdir(o.dataDir, { recursive: true });
    await this.#localState.open();
    this.nodeId = await loadNodeId(o.dataDir);
    const secret = await loadNodeSecret(o.dataDir);
    this.#client = new BerthClient({ address: this.#servers, token: o.token, nodeSecret: secret, nodeId: this.nodeId, transport: o.transport });
    this.#reporter = new StatusReporter({ send: (updates) => this.#client.updateAllocations(this.nodeId, updates), logger: this.#log, clock: this.#clock });
    this.#allocs = new LocalAllocs({ client: this.#client, reporter: this.#reporter, logger: this.#log, signal, clock: this.#clock, newRunner: (alloc, job) => this.#newRunner(alloc, job) });
    // The endpoint answers to the Host names of the address it listens at (the one the servers are given).
    this.#http = await buildAgentApp(this.#allocs.runners, this.#drivers, { logger: this.#log, nodeId: () => this.nodeId, bindHost: httpHost, nodeSecret: secret, https: o.tls?.options, metrics: this.#metrics });
    o.tls?.attach(this.#http.server as unknown as tls.Server);
    await this.#http.listen({ host: httpHost, port: o.httpPort ?? 0 }).catch(async (err: NodeJS.ErrnoException) => {
      this.#localState.close();
      await this.#http?.close();
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'it is not an address of this host' : err.message;
      throw new BerthError('invalid_input', `Cannot start the agent: cannot listen on ${httpHost}:${o.httpPort ?? 0} (${why}); pick another with --http-addr`);
    });
    await this.#startIngress();
    const meta = o.ingress ? { ...o.meta, ...ingressNodeMeta(o.ingress) } : o.meta;
    const request = registrationRequest({ nodeId: this.nodeId, settings: { ...o, address, meta }, facts, httpAddr: endpointUrl(httpHost, address, this.#http, o.tls !== undefined) });
    this.#node = new NodeRegistration({ client: this.#client, request, clock: this.#clock, logger: this.#log, signal });
    this.#services = await AgentServices.start({
      client: this.#client, clock: this.#clock, logger: this.#log.child({ component: 'services' }),
      bridgeAddress: facts.drivers.docker?.bridgeAddress, serviceAddresses: o.serviceAddresses, dnsUpstreams: o.dnsServers, dnsPort: o.nodeDnsPort,
    });
    this.#allocs.restore(await recoverLocal({ localState: this.#localState, drivers: this.#drivers, nodeName: request.name, logger: this.#log }));
    try {
      await this.#node.register();
    } catch (err) {
      // Refused for good (another node's id, no token): let go of what was opened, tasks keep running.
      await this.stop();
      throw err;
    }
    const watch = watchAllocs({
      client: this.#client,
      nodeId: this.nodeId,
      clock: this.#clock,
      logger: this.#log,
      signal,
      onAllocs: (allocs) => this.#allocs.reconcile(allocs),
      onUnknownNode: () => this.#node.register(),
    });
    this.#loops.push(this.#node.heartbeatLoop(), watch);
    if (this.#ingress) this.#loops.push(followIngress({ client: this.#client, dataPath: this.#ingress, clock: this.#clock, logger: this.#log, signal }));
    this.#log.info({ nodeId: this.nodeId, name: request.name, defaultDriver: request.defaultDriver, http: request.httpAddr }, 'agent started');
  }

  /** Bind the ingress's addresses before registering, so that a refusal leaves nothing behind. */
  async #startIngress(): Promise<void> {
    if (!this.#o.ingress) return;
    const dataPath = makeDataPath(this.#o.ingress, { dataDir: this.#o.dataDir, logger: this.#log });
    try {
      await dataPath.start();
    } catch (err) {
      await dataPath.close().catch(() => undefined);
      this.#localState.close();
      await this.#http?.close();
      throw new BerthError('invalid_input', `Cannot start the agent's ingress (${dataPath.name}): ${(err as Error).message}`);
    }
    this.#ingress = dataPath;
  }

  /**
   * Read the TLS files again (SIGHUP): the endpoint's new handshakes and new connections to the
   * servers use the new certificates; open ones go on. Throws on a bad file, keeping the old ones.
   */
  reloadTls(): void {
    this.#o.tls?.reload();
    this.#o.transport?.reload?.();
  }

  /** Stop the agent's loops. Tasks keep running unless `stopTasks`. */
  async stop(options: { stopTasks?: boolean } = {}): Promise<void> {
    this.#stop.abort();
    const runners = [...this.#allocs.runners.values()];
    if (options.stopTasks) await Promise.all(runners.map((r) => r.destroy()));
    // Otherwise the runners only let go of their tasks, which run on for the next agent. A start
    // in progress (an image pull) is not waited for past the budget.
    else await this.#within(Promise.all(runners.map((r) => r.detach())), 2000);
    await this.#within(this.#reporter.flush(), 2000);
    this.#reporter.close();
    await Promise.all(runners.map((r) => r.save()));
    this.#localState.close();
    await this.#http?.close();
    await this.#services?.stop();
    await Promise.allSettled(this.#loops);
    await this.#ingress?.close();
    this.#forwarder?.close();
  }

  /** Wait for `work`, but no longer than `ms`. */
  async #within(work: Promise<unknown>, ms: number): Promise<void> {
    const timer = new AbortController();
    await Promise.race([work, this.#clock.sleep(ms, timer.signal).catch(() => undefined)]);
    timer.abort();
  }

  #newRunner(alloc: Allocation, job: Job): AllocRunner {
    const node = this.#node.request;
    return new AllocRunner(alloc, job, {
      nodeName: node.name,
      nodeAddress: node.address,
      drivers: this.#drivers,
      defaultDriver: node.defaultDriver,
      localState: this.#localState,
      clock: this.#clock,
      logger: this.#log.child({ allocId: alloc.id }),
      onChange: (u) => this.#reporter.push(u),
      servers: this.#client.servers,
      dnsServers: this.#o.dnsServers,
      services: this.#services,
      logForwarder: this.#forwarder,
    });
  }
}

/** The URL the server reaches the agent's endpoint at: its listening address, or `address` when it listens on every interface. */
function endpointUrl(httpHost: string, address: string, http: FastifyInstance, https: boolean): string {
  const host = httpHost === '0.0.0.0' || httpHost === '::' ? address : httpHost;
  const port = (http.server.address() as net.AddressInfo).port;
  return `${https ? 'https' : 'http'}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}
