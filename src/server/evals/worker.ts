import { processEval, type Planner, type State } from '../../scheduler/index.ts';
import type { DependencyWait, Evaluation, Job, Plan, PlanResult } from '../../model/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { Logger } from '../../lib/index.ts';
import { newId } from '../../lib/index.ts';
import type { EvalBroker, Delivery } from './broker.ts';
import type { PlanApplier } from './plan-apply.ts';
import type { ServerMetrics } from '../metrics.ts';
import type { NodeUsageCache } from './node-usage.ts';

/** What a worker needs. */
export interface WorkerDeps {
  broker: EvalBroker;
  view: StateView;
  store: StateStore;
  planApplier: PlanApplier;
  clock: Clock;
  logger: Logger;
  metrics?: ServerMetrics;
  /** Bin-pack (default) or spread. */
  algorithm?: 'binpack' | 'spread';
  /** Per-node usage kept across passes (shared by the workers); absent: each pass sums its own. */
  usage?: NodeUsageCache;
  /** The dependencies of a job not met now (server/dependencies/); absent: placements are never held. */
  waits?: (job: Job) => DependencyWait[];
}

/**
 * An eval worker: takes evaluations from the broker, runs the scheduler on a fresh snapshot and
 * hands its plan to the plan applier. It implements the scheduler's Planner.
 */
export class Worker {
  readonly #deps: WorkerDeps;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
  }

  /** Process evaluations until the signal aborts or the broker is disabled. */
  async run(signal: AbortSignal): Promise<void> {
    const { broker } = this.#deps;
    while (!signal.aborted) {
      const delivery = await broker.dequeue(signal);
      if (!delivery) return;
      await this.#process(delivery);
    }
  }

  async #process(delivery: Delivery): Promise<void> {
    const { broker, clock, logger, metrics } = this.#deps;
    const started = performance.now();
    const evaluation = delivery.evaluation;
    try {
      const planner = this.#planner(delivery);
      await processEval(evaluation, { state: this.#state(), planner, now: clock.now(), newId, algorithm: this.#deps.algorithm, waits: this.#deps.waits });
      broker.ack(delivery);
      metrics?.evalsProcessed.inc({ outcome: 'complete' });
    } catch (err) {
      logger.error({ err, evalId: evaluation.id, jobId: evaluation.jobId, attempt: delivery.attempt }, 'evaluation failed');
      if (!broker.nack(delivery)) {
        metrics?.evalsProcessed.inc({ outcome: 'failed' });
        await this.#saveEvals(delivery, { ...evaluation, status: 'failed', statusDescription: `scheduler error: ${(err as Error).message}` }).catch(
          (e: unknown) => logger.error({ err: e, evalId: evaluation.id }, 'cannot mark evaluation failed'),
        );
      }
    } finally {
      metrics?.scheduleSeconds.observe((performance.now() - started) / 1000);
    }
  }

  /** What the scheduler reads: the live view through the usage cache (see `NodeUsageCache.live`), or a snapshot. */
  #state(): State {
    return this.#deps.usage?.live() ?? this.#deps.view.snapshot();
  }

  #planner(delivery: Delivery): Planner {
    return {
      submitPlan: (plan: Plan): Promise<PlanResult> => this.#deps.planApplier.apply(plan),
      updateEval: (evaluation: Evaluation): Promise<void> => this.#saveEvals(delivery, evaluation),
      createEval: async (evaluation: Evaluation): Promise<void> => {
        const result = await this.#deps.store.commit([{ table: 'evals', id: evaluation.id, value: evaluation, ifModRevision: 0 }]);
        if (!result.ok) throw new Error(`Cannot create evaluation ${evaluation.id}: conflicting write`);
      },
      refreshState: async (minIndex: number): Promise<State> => {
        await this.#deps.view.waitForIndex(minIndex, 5_000);
        return this.#state();
      },
    };
  }

  /** Store the evaluation's outcome, and mark the evaluations coalesced into it as done. */
  async #saveEvals(delivery: Delivery, evaluation: Evaluation): Promise<void> {
    const now = this.#deps.clock.now();
    const writes = [{ table: 'evals' as const, id: evaluation.id, value: { ...evaluation, modifyTime: now } }];
    for (const other of delivery.coalesced) {
      const value: Evaluation = { ...other, status: 'complete', statusDescription: `coalesced into evaluation ${evaluation.id}`, modifyTime: now };
      writes.push({ table: 'evals', id: other.id, value });
    }
    const result = await this.#deps.store.commit(writes);
    if (!result.ok) throw new Error(`Cannot save evaluation ${evaluation.id}: conflicting write`);
  }
}
