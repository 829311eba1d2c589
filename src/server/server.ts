import type { FastifyInstance } from 'fastify';
import { StateStore, StateView, type StateBackend } from '../state/index.ts';
import { systemClock, type Clock } from '../lib/index.ts';
import type { Logger } from '../lib/index.ts';
import { EvalBroker } from './broker.ts';
import { PlanApplier } from './plan-apply.ts';
import { Worker } from './worker.ts';
import { JobService } from './jobs.ts';
import { NodeService, type NodeServiceOptions } from './nodes.ts';
import { BlockedEvals } from './blocked-evals.ts';
import { Drainer } from './drainer.ts';
import { PeriodicDispatcher, type DispatcherOptions } from './periodic/dispatcher.ts';
import { DeploymentWatcher } from './deployment-watcher.ts';
import { NodeUsageCache } from './node-usage.ts';
import { ServerMetrics } from './metrics.ts';
import { buildApp } from './http/app.ts';
import type { ServerContext } from './context.ts';
import { ServerDiscovery, type DiscoveryOptions } from './discovery.ts';
import { openServerKv } from './kv.ts';

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
}

/**
 * The control plane: the typed state view over a backend, the eval broker, workers and plan
 * applier, the node heartbeat monitor, and the HTTP API.
 */
export class Server {
  readonly view: StateView;
  readonly store: StateStore;
  readonly app: FastifyInstance;
  readonly broker: EvalBroker;
  readonly metrics: ServerMetrics;
  /** The catalog, its sync loop and DNS. */
  discovery!: ServerDiscovery;
  /** The URL the API listens on, once started. */
  url = '';
  readonly #options: ServerOptions;
  readonly #stopWorkers = new AbortController();
  readonly #workers: Promise<void>[] = [];
  readonly #nodes: NodeService;
  readonly #kv: ServerContext['kv'];
  readonly #unsubscribe: () => void;
  /** Evaluations waiting for capacity. */
  readonly blockedEvals: BlockedEvals;
  readonly #drainer: Drainer;
  #periodic: PeriodicDispatcher | undefined;
  readonly #deployments: DeploymentWatcher;

  private constructor(options: ServerOptions, view: StateView, store: StateStore, ctx: ServerContext, app: FastifyInstance, broker: EvalBroker) {
    this.#options = options;
    this.view = view;
    this.store = store;
    this.app = app;
    this.broker = broker;
    this.metrics = ctx.metrics;
    this.#nodes = ctx.nodes;
    this.#kv = ctx.kv;
    this.blockedEvals = new BlockedEvals({ view, store, clock: ctx.clock, logger: options.logger.child({ component: 'blocked-evals' }) });
    this.#deployments = new DeploymentWatcher({ view, store, clock: ctx.clock, logger: options.logger.child({ component: 'deployments' }), jobs: ctx.jobs });
    this.#drainer = new Drainer({ view, store, clock: ctx.clock, logger: options.logger.child({ component: 'drainer' }) }, { intervalMs: options.drainIntervalMs });
    // Level-triggered: any pending evaluation the view sees goes to the broker, whoever wrote it.
    this.#unsubscribe = view.onChange((_rev, changes) => {
      for (const c of changes) {
        if (c.table === 'evals' || c.table === 'nodes' || c.table === 'allocs') this.blockedEvals.observe(c.table, c.id);
        if (c.table === 'nodes' || c.table === 'allocs') this.#drainer.poke();
        if (c.table === 'allocs' || c.table === 'services' || c.table === 'deployments') this.#deployments.poke();
        if (c.table !== 'evals' || c.type !== 'put') continue;
        const evaluation = view.eval(c.id);
        if (evaluation?.status === 'pending') broker.enqueue(evaluation);
      }
      ctx.metrics.brokerReady.set(broker.readyCount);
    });
  }

  /** Open the state, start the control loops and listen. */
  static async start(options: ServerOptions): Promise<Server> {
    const clock = options.clock ?? systemClock;
    const logger = options.logger;
    const view = await StateView.open(options.backend);
    const store = new StateStore(options.backend, view);
    const metrics = new ServerMetrics();
    const jobs = new JobService({ view, store, clock });
    const nodes = new NodeService({ view, store, clock, logger: logger.child({ component: 'nodes' }) }, options.heartbeat);
    const discovery = new ServerDiscovery(view, store, logger, options.discovery);
    discovery.registerMetrics(metrics.registry);
    const kv = await openServerKv(options.backend, view, options.discovery?.nodeName);
    const ctx: ServerContext = { view, store, clock, jobs, nodes, metrics, discovery, kv, backend: options.backend };
    ctx.periodic = new PeriodicDispatcher({ view, store, clock, logger: logger.child({ component: 'periodic' }) }, options.periodic);
    const app = await buildApp(ctx, logger);
    const broker = new EvalBroker({ now: () => clock.now() });
    const server = new Server(options, view, store, ctx, app, broker);
    server.#startLoops(clock, logger);
    server.#periodic = ctx.periodic;
    server.#periodic.start();
    server.discovery = discovery;
    await discovery.start();
    const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7460 });
    server.url = address.replace('[::1]', '127.0.0.1');
    logger.info({ url: server.url, backend: options.backend.name, index: view.index }, 'server listening');
    return server;
  }

  /** This server leads (there is one server until HA): it runs the broker, workers and heartbeat monitor. */
  #startLoops(clock: Clock, logger: Logger): void {
    const planApplier = new PlanApplier({ view: this.view, store: this.store, clock, metrics: this.metrics });
    this.broker.enable();
    for (const e of this.view.evals()) if (e.status === 'pending') this.broker.enqueue(e);
    const workerLogger = logger.child({ component: 'worker' });
    const usage = new NodeUsageCache(this.view);
    for (let i = 0; i < (this.#options.workers ?? 2); i++) {
      const worker = new Worker({
        broker: this.broker,
        view: this.view,
        store: this.store,
        planApplier,
        clock,
        logger: workerLogger,
        metrics: this.metrics,
        algorithm: this.#options.schedulerAlgorithm,
        usage,
      });
      this.#workers.push(worker.run(this.#stopWorkers.signal));
    }
    this.#nodes.start();
    this.blockedEvals.start();
    this.#drainer.start();
    this.#deployments.start();
  }

  /** Stop serving and close the state. Agents keep their tasks running. */
  async stop(): Promise<void> {
    this.#unsubscribe();
    await this.discovery.stop();
    this.#nodes.stop();
    await this.#periodic?.stop();
    this.#deployments.stop();
    this.#stopWorkers.abort();
    this.broker.disable();
    await this.app.close();
    this.#kv?.close();
    await Promise.allSettled(this.#workers);
    this.view.close();
    await this.#options.backend.close();
  }
}
