/**
 * The dependency watcher (leader): wakes jobs whose placements were held for their dependencies
 * once those are met, with a new evaluation, and restarts a dependent's allocations when a
 * dependency marked `restart: true` restarted after them. Level-triggered: each pass reads every
 * job with dependencies and its newest evaluation; state changes only wake it sooner.
 */
import type { Job } from '../../model/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';
import { Controller, type Clock, type Logger } from '../../lib/index.ts';
import { latestEval, newEvalWrite } from '../evals/index.ts';
import type { JobService } from '../jobs/index.ts';
import { dependencyWaits, lastStart, unmet } from './conditions.ts';

/** Tables whose changes can move a dependency's condition. */
const WATCHED = new Set(['jobs', 'allocs', 'services', 'evals', 'runs', 'deployments']);

/** What the watcher needs. */
export interface DependencyWatcherDeps {
  view: StateView;
  /** The leader's (fenced) store. */
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** Restarts dependents (`JobService.restartAllocs`). */
  jobs: JobService;
}

/** Wakes held jobs and restarts dependents; runs on the leader. */
export class DependencyWatcher extends Controller {
  readonly #d: DependencyWatcherDeps;
  #unsubscribe: (() => void) | undefined;

  /** `intervalMs`: a pass also runs this often without changes (default 1 s). */
  constructor(deps: DependencyWatcherDeps, options: { intervalMs?: number } = {}) {
    super({ what: 'dependency', intervalMs: options.intervalMs ?? 1000, clock: deps.clock, logger: deps.logger });
    this.#d = deps;
  }

  override start(): void {
    this.#unsubscribe = this.#d.view.onChange((_rev, changes) => {
      if (changes.some((c) => WATCHED.has(c.table))) this.poke();
    });
    super.start();
  }

  override async stop(): Promise<void> {
    this.#unsubscribe?.();
    await super.stop();
  }

  protected async pass(): Promise<void> {
    for (const job of this.#d.view.jobs()) {
      if (!job.dependsOn?.length || job.stop) continue;
      await this.#wake(job);
      await this.#restart(job);
    }
  }

  /** A job whose newest evaluation was held, and whose dependencies are met now: evaluate it again. */
  async #wake(job: Job): Promise<void> {
    const { view, store, clock, logger } = this.#d;
    const latest = latestEval(view.evalsByJob(job.id));
    if (latest === undefined || latest.status !== 'complete' || !latest.held?.length) return;
    if (dependencyWaits(view, job).length > 0) return;
    const { evaluation, write } = newEvalWrite(job, 'job-dependency', clock.now());
    const result = await store.commit([write]);
    if (result.ok) logger.info({ jobId: job.id, evalId: evaluation.id }, 'dependencies met: job evaluated again');
  }

  /** `restart: true`: the dependency (re)started after this job's allocations did, and is met again. */
  async #restart(job: Job): Promise<void> {
    const { view, jobs, logger } = this.#d;
    const restarting = (job.dependsOn ?? []).filter((d) => d.restart);
    if (restarting.length === 0) return;
    const allocs = view.allocsByJob(job.id).filter((a) => a.desiredStatus === 'run' && (a.clientStatus === 'running' || a.clientStatus === 'pending'));
    // Not while a restart (or a placement) is under way: its replacements start after the dependency.
    if (allocs.length === 0 || allocs.some((a) => a.migrate === true || a.clientStatus === 'pending')) return;
    const since = Math.min(...allocs.map((a) => Math.max(0, ...Object.values(a.taskStates).map((t) => t.startedAt ?? 0))));
    const cause = restarting.find((d) => (lastStart(view, d.job) ?? 0) > since && unmet(view, d) === undefined);
    if (cause === undefined) return;
    const result = await jobs.restartAllocs(job.id, allocs.map((a) => a.id));
    logger.info({ jobId: job.id, dependency: cause.job, restarted: result.restarted.length }, 'dependency restarted: dependent restarted too');
  }
}
