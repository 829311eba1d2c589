/**
 * The control loops only the leader runs: the eval broker and its workers with the plan applier,
 * heartbeat timers, blocked evaluations, the drainer, the deployment watcher, the periodic
 * dispatcher, the dependency watcher, the garbage collector, the catalog's sync and TTL expiry, and the KV session reaper. Started when this
 * server wins the election, stopped the moment it loses it; every other server only reads the
 * state and accepts writes.
 */
import type { StateStore, StateView } from '../../state/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { KvService } from '../../kv/index.ts';
import { type EvalBroker, PlanApplier, Worker, NodeUsageCache, type BlockedEvals } from '../evals/index.ts';
import type { NodeService, Drainer } from '../nodes/index.ts';
import type { DeploymentWatcher } from '../rollout/index.ts';
import type { PeriodicDispatcher } from '../periodic/index.ts';
import type { GarbageCollector } from '../gc/index.ts';
import { dependencyWaits, type DependencyWatcher } from '../dependencies/index.ts';
import { type ServerDiscovery, startSessionReaper } from '../consul/index.ts';
import type { ServerMetrics } from '../metrics.ts';

/** What the leader's loops are made of. */
export interface LeaderLoopsDeps {
  view: StateView;
  /** The fenced store: its writes land only while this server leads in the term it won. */
  store: StateStore;
  clock: Clock;
  logger: Logger;
  metrics: ServerMetrics;
  broker: EvalBroker;
  nodes: NodeService;
  blockedEvals: BlockedEvals;
  drainer: Drainer;
  deployments: DeploymentWatcher;
  periodic: PeriodicDispatcher;
  gc: GarbageCollector;
  discovery: ServerDiscovery;
  kv: KvService;
  /** Eval workers. */
  workers: number;
  algorithm?: 'binpack' | 'spread';
  /** The keyring's rekey loop (server/variables/). */
  rekey?: { start(): void; stop(): Promise<void> };
  /** The dependency watcher: wakes held jobs, restarts dependents (server/dependencies/). */
  dependencies: DependencyWatcher;
}

/** Starts and stops the leader's loops, one term at a time. */
export class LeaderLoops {
  readonly #d: LeaderLoopsDeps;
  #term: { abort: AbortController; workers: Promise<void>[] } | undefined;

  constructor(deps: LeaderLoopsDeps) {
    this.#d = deps;
  }

  /** True while the loops run. */
  get running(): boolean {
    return this.#term !== undefined;
  }

  /**
   * Start every loop. What a previous leader left is picked up from the state: pending evaluations
   * (those it had in flight too, since a worker writes an evaluation only when done with it) go to
   * the broker, every ready node gets a full heartbeat TTL plus grace from now, blocked evaluations
   * are looked at again.
   */
  start(): void {
    if (this.#term) return;
    const d = this.#d;
    const abort = new AbortController();
    const planApplier = new PlanApplier({ view: d.view, store: d.store, clock: d.clock, metrics: d.metrics });
    d.broker.enable();
    for (const e of d.view.evals()) if (e.status === 'pending') d.broker.enqueue(e);
    const usage = new NodeUsageCache(d.view);
    const logger = d.logger.child({ component: 'worker' });
    const workers: Promise<void>[] = [];
    for (let i = 0; i < d.workers; i++) {
      const worker = new Worker({ broker: d.broker, view: d.view, store: d.store, planApplier, clock: d.clock, logger, metrics: d.metrics, algorithm: d.algorithm, usage, waits: (job) => dependencyWaits(d.view, job) });
      workers.push(worker.run(abort.signal));
    }
    this.#term = { abort, workers };
    d.nodes.start();
    d.blockedEvals.start();
    d.drainer.start();
    d.deployments.start();
    d.periodic.start();
    d.dependencies.start();
    d.gc.start();
    d.discovery.lead();
    startSessionReaper(d.kv, d.view);
    d.rekey?.start();
  }

  /** Stop every loop at once; resolves when the passes under way have ended (their writes fail on the fence). */
  async stop(): Promise<void> {
    const term = this.#term;
    if (!term) return;
    this.#term = undefined;
    const d = this.#d;
    term.abort.abort();
    d.broker.disable();
    d.nodes.stop();
    d.blockedEvals.stop();
    d.kv.sessions.stop();
    d.discovery.unlead();
    await Promise.allSettled([d.drainer.stop(), d.deployments.stop(), d.periodic.stop(), d.dependencies.stop(), d.gc.stop(), ...term.workers, d.rekey?.stop()]);
  }
}
