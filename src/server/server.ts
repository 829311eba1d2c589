import type { FastifyInstance } from 'fastify';
import { StateStore, StateView, type StateBackend } from '../state/index.ts';
import { systemClock, type Clock, type Logger } from '../lib/index.ts';
import os from 'node:os';
import { EvalBroker, BlockedEvals } from './evals/index.ts';
import { JobService } from './jobs/index.ts';
import { NodeService, type NodeServiceOptions, Drainer } from './nodes/index.ts';
import { PeriodicDispatcher, type DispatcherOptions } from './periodic/index.ts';
import { GarbageCollector, type GcOptions } from './gc/index.ts';
import { DeploymentWatcher } from './rollout/index.ts';
import { DependencyWatcher } from './dependencies/index.ts';
import { timedBackend } from './timed-backend.ts';
import { ServerMetrics } from './metrics.ts';
import { buildApp, type BrowserGuardOptions } from './http/index.ts';
import type { Peers, ServerContext } from './context.ts';
import { plainTransport } from '../api/index.ts';
import type { ServerTls } from '../tls/index.ts';
import type tls from 'node:tls';
import { ServerDiscovery, type DiscoveryOptions, openServerKv } from './consul/index.ts';
import { Leadership, LeaderLoops, fencedBackend, type ServerMember } from './cluster/index.ts';
import { AclService, type AclOptions } from './acl/index.ts';
import { openVariables, type KeyringOptions } from './variables/index.ts';

/** How often a follower probes the leader's API address, to replace a crashed leader before its lease runs out. */
const LEADER_PROBE_MS = 200;

/** Server settings. */
export interface ServerOptions {
  /** The state backend; the server closes it on stop. */
  backend: StateBackend;
  logger: Logger;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 7460. */
  port?: number;
  /** Eval workers. Default 2. */
  workers?: number;
  clock?: Clock;
  heartbeat?: NodeServiceOptions;
  /** How the scheduler ranks nodes: `binpack` (default) or `spread`. */
  schedulerAlgorithm?: 'binpack' | 'spread';
  /** How often the drainer looks at draining nodes besides on changes. Default 1 s. */
  drainIntervalMs?: number;
  /** The service catalog and DNS. */
  discovery?: DiscoveryOptions;
  /** The periodic dispatcher (cron, dependencies). */
  periodic?: DispatcherOptions;
  /** Garbage collection: thresholds, interval, batch size. */
  gc?: GcOptions;
  /** The IPv4 CIDR block service addresses are given from (every server of a cluster must use the same). Default 198.18.0.0/16. */
  serviceAddressRange?: string;
  /** This server's name among the servers. Default `<host name>:<port>`. */
  name?: string;
  /** The API URL other servers and clients reach it at. Default the URL it listens on. */
  advertiseUrl?: string;
  /** Lease TTL of the leader election, seconds: how long a crashed leader may go unnoticed. Default 3. */
  leaderLeaseTtlSeconds?: number;
  /** ACLs: off unless enabled. */
  acl?: AclOptions;
  /** More Host names and web origins the API accepts (`--allowed-host`, `--allowed-origin`); the bind and advertised addresses are always accepted. */
  browser?: Pick<BrowserGuardOptions, 'allowedHosts' | 'allowedOrigins'>;
  /**
   * TLS of the HTTP API (the DNS port stays plain): its certificate, key and CA, read again by
   * `reloadTls()`. Its presence is what "TLS is on" means. Default none: plain HTTP.
   */
  tls?: ServerTls;
  /**
   * How the server calls other servers (leader forwarding) and agents (logs, exec, stats); with
   * TLS, transports that trust the CA, present this server's certificate and check the peer's
   * role name. Default plain fetch.
   */
  peers?: Peers & { reload?: () => void };
  /** The keyring of variables: where its key-encryption key is. Default: a KEK in this process's memory (tests: variables do not outlive the process). */
  keyring?: KeyringOptions;
}

/** What a server is made of before it listens: the routes' context and the leader's parts. */
interface ServerParts {
  ctx: ServerContext;
  /** The catalog with its sync loop and DNS (the routes see its catalog and registry). */
  discovery: ServerDiscovery;
  /** The election; the server joins it once it listens. */
  leadership: Leadership;
  broker: EvalBroker;
  blockedEvals: BlockedEvals;
  drainer: Drainer;
  deployments: DeploymentWatcher;
  loops: LeaderLoops;
}

/**
 * The control plane: the typed state view over a backend, the HTTP API, and, on the server that
 * wins the election, the control loops (eval broker, workers and plan applier, heartbeat monitor,
 * deployment watcher, ...). Every server serves reads and accepts writes.
 */
export class Server {
  readonly view: StateView;
  /** Every service the routes call. */
  readonly ctx: ServerContext;
  readonly store: StateStore;
  readonly app: FastifyInstance;
  readonly broker: EvalBroker;
  readonly metrics: ServerMetrics;
  /** The catalog, its sync loop and DNS. */
  readonly discovery: ServerDiscovery;
  /** The election and the other servers. */
  readonly leadership: Leadership;
  /** Evaluations waiting for capacity. */
  readonly blockedEvals: BlockedEvals;
  /** The URL the API listens on, once started. */
  url = '';
  readonly #options: ServerOptions;
  readonly #parts: ServerParts;
  readonly #unsubscribe: () => void;
  /** Loops starting or stopping, in order: a term ends before the next begins. */
  #transition: Promise<void> = Promise.resolve();

  private constructor(options: ServerOptions, parts: ServerParts, app: FastifyInstance) {
    const { ctx } = parts;
    this.#options = options;
    this.#parts = parts;
    this.ctx = ctx;
    this.view = ctx.view;
    this.store = ctx.store;
    this.app = app;
    this.broker = parts.broker;
    this.metrics = ctx.metrics;
    this.discovery = parts.discovery;
    this.leadership = parts.leadership;
    this.blockedEvals = parts.blockedEvals;
    this.#unsubscribe = observeChanges(parts);
  }

  /** Open the state, listen, and join the election (resolves after the first try; a lone server leads by then). */
  static async start(options: ServerOptions): Promise<Server> {
    // The election calls back into the server, which exists before anyone can be elected: the
    // server joins only once it listens (its URL is part of its member record).
    const made: { server?: Server } = {};
    const leadership = new Leadership({
      backend: options.backend,
      logger: options.logger.child({ component: 'leadership' }),
      ttlSeconds: options.leaderLeaseTtlSeconds,
      probeIntervalMs: LEADER_PROBE_MS,
      onElected: () => made.server && made.server.#lead(true),
      onDeposed: () => made.server && made.server.#lead(false),
    });
    const parts = await assemble(options, leadership);
    const app = await buildApp(parts.ctx, options.logger, { https: options.tls?.options, browser: browserGuardOptions(options) });
    if (options.tls) options.tls.attach(app.server as unknown as tls.Server);
    const server = new Server(options, parts, app);
    made.server = server;
    await server.#listenAndJoin();
    return server;
  }

  /** Serve DNS and the API, then join the election as the member this URL makes. */
  async #listenAndJoin(): Promise<void> {
    const options = this.#options;
    await this.discovery.start();
    const address = await this.app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7460 });
    this.url = address.replace('[::1]', '127.0.0.1');
    const member: ServerMember = {
      name: options.name ?? `${os.hostname()}:${new URL(this.url).port}`,
      url: options.advertiseUrl ?? this.url,
      address: options.discovery?.address ?? '127.0.0.1',
      startedAt: this.#parts.ctx.clock.now(),
    };
    try {
      await this.leadership.start(member);
    } catch (err) {
      await this.leadership.stop();
      await this.app.close();
      await this.discovery.stop();
      throw err;
    }
    // A server that won at once runs its loops when `start` resolves.
    await this.#transition;
    const { leadership, view } = this;
    options.logger.info({ url: this.url, name: member.name, backend: options.backend.name, index: view.index, leader: leadership.isLeader }, 'server listening');
  }

  /** Start the loops on election, stop them on deposition; in order, so a term ends before the next begins. */
  #lead(elected: boolean): void {
    if (!elected) this.broker.disable();
    const loops = this.#parts.loops;
    this.#transition = this.#transition
      .then(() => (elected && this.leadership.isLeader ? loops.start() : loops.stop()))
      .catch((err: unknown) => this.#options.logger.error({ err }, 'cannot start or stop the leader loops'));
  }

  /** Whether the API is served over TLS. */
  get tlsEnabled(): boolean {
    return this.#options.tls !== undefined;
  }

  /**
   * Read the TLS files again (SIGHUP): new handshakes, incoming and outgoing, use the new
   * certificates; open connections (blocking queries) go on. Throws on a bad file, keeping the
   * old ones; does nothing without TLS.
   */
  reloadTls(): void {
    this.#options.tls?.reload();
    this.#options.peers?.reload?.();
  }

  /** True while this server runs the control loops. */
  get leading(): boolean {
    return this.#parts.loops.running;
  }

  /** Stop serving, hand leadership over (the lease is revoked) and close the state. Agents keep their tasks running. */
  async stop(): Promise<void> {
    this.#unsubscribe();
    await this.leadership.stop();
    await this.#transition;
    await this.#parts.loops.stop();
    await this.discovery.stop();
    await this.app.close();
    this.#parts.ctx.kv.close();
    this.view.close();
    await this.#options.backend.close();
  }
}

/**
 * Build every part of a server over its backend: what the routes call (the full ServerContext)
 * and the loops the leader runs. The leader's loops write through the fenced store, so a deposed
 * leader's writes cannot land.
 */
async function assemble(options: ServerOptions, leadership: Leadership): Promise<ServerParts> {
  const { logger } = options;
  const metrics = new ServerMetrics();
  // Every backend call is timed (berth_backend_request_duration_seconds).
  const backend = timedBackend(options.backend, metrics.backendSeconds);
  const clock = options.clock ?? systemClock;
  const child = (component: string): Logger => logger.child({ component });
  const view = await StateView.open(backend);
  const store = new StateStore(backend, view);
  const leaderStore = new StateStore(fencedBackend(backend, () => leadership.fence()), view);
  // Registration prunes versions as the collector does: the current one and the newest `versionsKept` older ones.
  const jobs = new JobService({ view, store, clock }, { versionsKept: options.gc?.versionsKept === undefined ? undefined : options.gc.versionsKept + 1, serviceAddressRange: options.serviceAddressRange });
  const nodes = new NodeService({ view, store, leaderStore, clock, logger: child('nodes'), onHeartbeatMissed: () => metrics.heartbeatsMissed.inc() }, options.heartbeat);
  const discovery = new ServerDiscovery({ view, store, clock, logger }, options.discovery);
  discovery.registerMetrics(metrics.registry);
  const kv = await openServerKv(backend, { nodeName: options.discovery?.nodeName, clock });
  // Launches are safe from any server: each one creates its run row only if absent.
  const periodic = new PeriodicDispatcher({ view, store, clock, logger: child('periodic') }, options.periodic);
  const vars = await openVariables({ view, store, leaderStore, clock, logger: child('keyring') }, options.keyring);
  const acl = new AclService({ view, store, clock, logger: child('acl'), workload: (secret) => vars.workloadIdentities.resolve(secret) }, options.acl ?? { enabled: false });
  const peers = options.peers ?? { servers: plainTransport, agents: plainTransport };
  const { variables, keyring, workloadIdentities } = vars;
  // Collects through the fenced store: a deposed leader's deletes cannot land.
  const gc = new GarbageCollector({ view, store: leaderStore, clock, logger: child('gc'), backendName: backend.name }, options.gc);
  const ctx: ServerContext = { view, store, clock, jobs, nodes, metrics, periodic, discovery, kv, backend, cluster: leadership, acl, peers: { servers: peers.servers, agents: peers.agents }, variables, keyring, workloadIdentities, gc };
  const leaderDeps = { view, store: leaderStore, clock };
  const broker = new EvalBroker({ clock });
  metrics.onScrape(() => {
    metrics.brokerReady.set(broker.readyCount);
    metrics.brokerInFlight.set(broker.inFlightCount);
    metrics.brokerDelayed.set(broker.delayedCount);
    const oldest = broker.oldestReadyCreateTime;
    metrics.brokerOldest.set(oldest === undefined ? 0 : Math.max(0, clock.now() - oldest) / 1000);
  });
  const blockedEvals = new BlockedEvals({ ...leaderDeps, logger: child('blocked-evals') });
  const deployments = new DeploymentWatcher({ ...leaderDeps, logger: child('deployments'), jobs });
  const drainer = new Drainer({ ...leaderDeps, logger: child('drainer') }, { intervalMs: options.drainIntervalMs });
  const dependencies = new DependencyWatcher({ ...leaderDeps, logger: child('dependencies'), jobs });
  const loops = new LeaderLoops({
    ...leaderDeps,
    logger,
    metrics,
    broker,
    nodes,
    blockedEvals,
    drainer,
    deployments,
    periodic,
    gc,
    discovery,
    kv,
    workers: options.workers ?? 2,
    algorithm: options.schedulerAlgorithm,
    rekey: vars.rekey,
    dependencies,
  });
  return { ctx, discovery, leadership, broker, blockedEvals, drainer, deployments, loops };
}

/** The names the API answers to: its bind address, the addresses it is advertised at, configured ones. */
function browserGuardOptions(options: ServerOptions): BrowserGuardOptions {
  const advertised = [options.discovery?.address, options.advertiseUrl ? new URL(options.advertiseUrl).hostname : undefined].filter((h): h is string => !!h);
  return { bindHost: options.host, advertised, ...options.browser };
}

/**
 * Level-triggered: any pending evaluation the view sees goes to the broker, whoever wrote it (the
 * broker ignores it unless this server leads); changes poke the loops that care. Returns the unsubscribe.
 */
function observeChanges(parts: ServerParts): () => void {
  const { ctx, broker, blockedEvals, drainer, deployments } = parts;
  return ctx.view.onChange((_rev, changes) => {
    for (const c of changes) {
      if (c.table === 'evals' || c.table === 'nodes' || c.table === 'allocs') blockedEvals.observe(c.table, c.id);
      if (c.table === 'nodes') ctx.nodes.observe(c.id);
      if (c.table === 'nodes' || c.table === 'allocs') drainer.poke();
      if (c.table === 'allocs' || c.table === 'services' || c.table === 'deployments') deployments.poke();
      if (c.table !== 'evals' || c.type !== 'put') continue;
      const evaluation = ctx.view.eval(c.id);
      if (evaluation?.status === 'pending') broker.enqueue(evaluation);
    }
    ctx.metrics.brokerReady.set(broker.readyCount);
  });
}
