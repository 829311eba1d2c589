import type { FastifyInstance } from 'fastify';
import { StateStore, StateView, type StateBackend } from '../state/index.ts';
import { systemClock, type Clock, type Logger } from '../lib/index.ts';
import os from 'node:os';
import { EvalBroker, BlockedEvals } from './evals/index.ts';
import { JobService } from './jobs/index.ts';
import { NodeService, type NodeServiceOptions, Drainer } from './nodes/index.ts';
import { PeriodicDispatcher, type DispatcherOptions } from './periodic/index.ts';
import { DeploymentWatcher } from './rollout/index.ts';
import { ServerMetrics } from './metrics.ts';
import { buildApp } from './http/index.ts';
import type { ServerContext } from './context.ts';
import { ServerDiscovery, type DiscoveryOptions, openServerKv } from './consul/index.ts';
import { Leadership, NOT_LEADING, LeaderLoops, fencedBackend } from './cluster/index.ts';

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
  /** This server's name among the servers. Default `<host name>:<port>`. */
  name?: string;
  /** The API URL other servers and clients reach it at. Default the URL it listens on. */
  advertiseUrl?: string;
  /** Lease TTL of the leader election, seconds: how long a crashed leader may go unnoticed. Default 3. */
  leaderLeaseTtlSeconds?: number;
}

/**
 * The control plane: the typed state view over a backend, the HTTP API, and, on the server that
 * wins the election, the control loops (eval broker, workers and plan applier, heartbeat monitor,
 * deployment watcher, ...). Every server serves reads and accepts writes.
 */
export class Server {
  readonly view: StateView;
  readonly store: StateStore;
  readonly app: FastifyInstance;
  readonly broker: EvalBroker;
  readonly metrics: ServerMetrics;
  /** The catalog, its sync loop and DNS. */
  discovery!: ServerDiscovery;
  /** The election and the other servers, once listening. */
  leadership!: Leadership;
  /** The URL the API listens on, once started. */
  url = '';
  readonly #options: ServerOptions;
  readonly #nodes: NodeService;
  readonly #kv: ServerContext['kv'];
  readonly #unsubscribe: () => void;
  /** Evaluations waiting for capacity. */
  readonly blockedEvals: BlockedEvals;
  readonly #drainer: Drainer;
  readonly #deployments: DeploymentWatcher;
  #loops!: LeaderLoops;
  /** Loops starting or stopping, in order: a term ends before the next begins. */
  #transition: Promise<void> = Promise.resolve();

  private constructor(options: ServerOptions, view: StateView, ctx: ServerContext, app: FastifyInstance, broker: EvalBroker, leaderStore: StateStore) {
    this.#options = options;
    this.view = view;
    this.store = ctx.store;
    this.app = app;
    this.broker = broker;
    this.metrics = ctx.metrics;
    this.#nodes = ctx.nodes;
    this.#kv = ctx.kv;
    // The leader's loops write through the fenced store: a deposed leader's writes cannot land.
    const deps = { view, store: leaderStore, clock: ctx.clock };
    this.blockedEvals = new BlockedEvals({ ...deps, logger: options.logger.child({ component: 'blocked-evals' }) });
    this.#deployments = new DeploymentWatcher({ ...deps, logger: options.logger.child({ component: 'deployments' }), jobs: ctx.jobs });
    this.#drainer = new Drainer({ ...deps, logger: options.logger.child({ component: 'drainer' }) }, { intervalMs: options.drainIntervalMs });
    // Level-triggered: any pending evaluation the view sees goes to the broker, whoever wrote it
    // (the broker ignores it unless this server leads).
    this.#unsubscribe = view.onChange((_rev, changes) => {
      for (const c of changes) {
        if (c.table === 'evals' || c.table === 'nodes' || c.table === 'allocs') this.blockedEvals.observe(c.table, c.id);
        if (c.table === 'nodes') this.#nodes.observe(c.id);
        if (c.table === 'nodes' || c.table === 'allocs') this.#drainer.poke();
        if (c.table === 'allocs' || c.table === 'services' || c.table === 'deployments') this.#deployments.poke();
        if (c.table !== 'evals' || c.type !== 'put') continue;
        const evaluation = view.eval(c.id);
        if (evaluation?.status === 'pending') broker.enqueue(evaluation);
      }
      ctx.metrics.brokerReady.set(broker.readyCount);
    });
  }

  /** Open the state, listen, and join the election (resolves after the first try; a lone server leads by then). */
  static async start(options: ServerOptions): Promise<Server> {
    const clock = options.clock ?? systemClock;
    const logger = options.logger;
    const view = await StateView.open(options.backend);
    const store = new StateStore(options.backend, view);
    // The election starts once the server listens (its URL is part of its member record).
    const elected: { leadership?: Leadership } = {};
    const leaderStore = new StateStore(
      fencedBackend(options.backend, () => elected.leadership?.fence() ?? [...NOT_LEADING]),
      view,
    );
    const metrics = new ServerMetrics();
    const jobs = new JobService({ view, store, clock });
    const nodes = new NodeService({ view, store, leaderStore, clock, logger: logger.child({ component: 'nodes' }) }, options.heartbeat);
    const discovery = new ServerDiscovery(view, store, logger, options.discovery);
    discovery.registerMetrics(metrics.registry);
    const kv = await openServerKv(options.backend, options.discovery?.nodeName);
    const ctx: ServerContext = { view, store, clock, jobs, nodes, metrics, discovery, kv, backend: options.backend };
    // Launches are safe from any server: each one creates its run row only if absent.
    ctx.periodic = new PeriodicDispatcher({ view, store, clock, logger: logger.child({ component: 'periodic' }) }, options.periodic);
    const app = await buildApp(ctx, logger);
    const broker = new EvalBroker({ now: () => clock.now() });
    const server = new Server(options, view, ctx, app, broker, leaderStore);
    server.#loops = new LeaderLoops({
      view,
      store: leaderStore,
      clock,
      logger,
      metrics,
      broker,
      nodes,
      blockedEvals: server.blockedEvals,
      drainer: server.#drainer,
      deployments: server.#deployments,
      periodic: ctx.periodic,
      discovery,
      kv,
      workers: options.workers ?? 2,
      algorithm: options.schedulerAlgorithm,
    });
    server.discovery = discovery;
    await discovery.start();
    const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7460 });
    server.url = address.replace('[::1]', '127.0.0.1');
    const port = new URL(server.url).port;
    const leadership = new Leadership({
      backend: options.backend,
      member: {
        name: options.name ?? `${os.hostname()}:${port}`,
        url: options.advertiseUrl ?? server.url,
        address: options.discovery?.address ?? '127.0.0.1',
        startedAt: clock.now(),
      },
      logger: logger.child({ component: 'leadership' }),
      ttlSeconds: options.leaderLeaseTtlSeconds,
      onElected: () => server.#lead(true),
      onDeposed: () => server.#lead(false),
    });
    elected.leadership = leadership;
    server.leadership = leadership;
    ctx.cluster = leadership;
    try {
      await leadership.start();
    } catch (err) {
      await leadership.stop();
      await app.close();
      await discovery.stop();
      throw err;
    }
    // A server that won at once runs its loops when `start` resolves.
    await server.#transition;
    logger.info({ url: server.url, name: leadership.self.name, backend: options.backend.name, index: view.index, leader: leadership.isLeader }, 'server listening');
    return server;
  }

  /** Start the loops on election, stop them on deposition; in order, so a term ends before the next begins. */
  #lead(elected: boolean): void {
    if (!elected) this.broker.disable();
    this.#transition = this.#transition
      .then(() => (elected && this.leadership.isLeader ? this.#loops.start() : this.#loops.stop()))
      .catch((err: unknown) => this.#options.logger.error({ err }, 'cannot start or stop the leader loops'));
  }

  /** True while this server runs the control loops. */
  get leading(): boolean {
    return this.#loops.running;
  }

  /** Stop serving, hand leadership over (the lease is revoked) and close the state. Agents keep their tasks running. */
  async stop(): Promise<void> {
    this.#unsubscribe();
    await this.leadership?.stop();
    await this.#transition;
    await this.#loops.stop();
    await this.discovery.stop();
    await this.app.close();
    this.#kv?.close();
    this.view.close();
    await this.#options.backend.close();
  }
}
