/**
 * The deployment watcher (leader only): for each running deployment it judges the health of the
 * new allocations, counts progress per group, asks for an evaluation whenever the rollout may
 * move on, and ends the deployment: successful when every group is healthy, failed when an
 * allocation is unhealthy or nothing turned healthy within `progress_deadline`. A failed
 * deployment with `auto_revert` registers the latest stable version again. Every deployment ends:
 * each group has a progress deadline, and each allocation a healthy deadline.
 */
import { isTerminal, type Allocation, type Deployment, type DeploymentHealth, type Job, type ServiceInstance } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import { Controller, type Clock, type Logger } from '../../lib/index.ts';
import { newEvalWrite } from '../evals/index.ts';
import { judge } from './deployment-health.ts';
import { specChanged, type JobService } from '../jobs/index.ts';

/** Watcher settings. */
export interface DeploymentWatcherOptions {
  /** How often running deployments are looked at besides on changes. Default 250 ms. */
  intervalMs?: number;
}

/** What one pass decided for one deployment. */
interface Outcome {
  writes: Write[];
  revertTo?: number;
}

/** Runs passes over the running deployments; one pass at a time, level-triggered. */
export class DeploymentWatcher extends Controller {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #jobs: JobService;
  /** When each allocation was first seen looking healthy (min_healthy_time counts from it). */
  readonly #since = new Map<string, number>();

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger; jobs: JobService }, options: DeploymentWatcherOptions = {}) {
    super({ what: 'deployment', intervalMs: options.intervalMs ?? 250, clock: deps.clock, logger: deps.logger });
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#jobs = deps.jobs;
  }

  protected async pass(): Promise<void> {
    const running = this.#view.deployments().filter((d) => d.status === 'running');
    if (running.length === 0) {
      this.#since.clear();
      return;
    }
    const byAlloc = new Map<string, ServiceInstance[]>();
    for (const i of this.#view.serviceInstances()) {
      if (i.source.kind !== 'alloc') continue;
      byAlloc.set(i.source.allocId, [...(byAlloc.get(i.source.allocId) ?? []), i]);
    }
    for (const d of running) {
      const job = this.#view.job(d.jobId);
      const outcome = this.#watch(d, job, byAlloc);
      if (outcome.writes.length === 0) continue;
      const result = await this.#store.commit(outcome.writes);
      if (!result.ok) {
        this.poke();
        continue;
      }
      if (outcome.revertTo !== undefined) await this.#revert(d, outcome.revertTo);
    }
  }

  /** Health, counts and status of one deployment, as writes. */
  #watch(d: Deployment, job: Job | undefined, byAlloc: Map<string, ServiceInstance[]>): Outcome {
    const now = this.#clock.now();
    if (job === undefined || job.stop || job.version !== d.jobVersion) {
      return { writes: [this.#end(d, 'cancelled', 'Cancelled because the job changed', now)] };
    }
    const writes: Write[] = [];
    const next: Deployment = { ...d, groups: { ...d.groups } };
    const allocs = this.#view.allocsByJob(d.jobId).filter((a) => a.deploymentId === d.id);
    let progressed = false;
    let unhealthy: { alloc: Allocation; health: DeploymentHealth } | undefined;
    for (const [name, state] of Object.entries(d.groups)) {
      const group = job.groups.find((g) => g.name === name);
      if (group?.update === undefined) continue;
      const mine = allocs.filter((a) => a.group === name);
      let healthy = 0;
      let bad = 0;
      for (const a of mine) {
        let health = a.deploymentHealth;
        if (health === undefined && (a.desiredStatus === 'run' || a.clientStatus === 'failed')) {
          health = judge({ alloc: a, group, update: group.update, instances: byAlloc.get(a.id) ?? [] }, { now, since: this.#since });
          if (health !== undefined) {
            writes.push({ table: 'allocs', id: a.id, value: { ...a, deploymentHealth: health, modifyTime: now }, ifModRevision: this.#view.modRevision('allocs', a.id) });
            this.#since.delete(a.id);
            if (health.healthy) progressed = true;
          }
        }
        if (health?.healthy === true) healthy++;
        if (health?.healthy === false) {
          bad++;
          unhealthy ??= { alloc: a, health };
        }
      }
      const u = group.update;
      const deadline = healthy > state.healthy ? now + (u.progressDeadlineMs || u.healthyDeadlineMs) : state.progressDeadline;
      const canaries = mine.filter((a) => a.canary === true && !isTerminal(a));
      const healthyCanaries = canaries.filter((a) => a.deploymentHealth?.healthy === true).length;
      // auto_promote: once every canary is healthy, the rest follows.
      const promoted = state.promoted || (u.autoPromote && state.desiredCanaries > 0 && healthyCanaries >= state.desiredCanaries);
      if (promoted && !state.promoted) progressed = true;
      next.groups[name] = { ...state, placed: mine.length, healthy, unhealthy: bad, progressDeadline: deadline, canaries: canaries.map((a) => a.id), promoted };
    }
    const groups = Object.entries(next.groups);
    if (unhealthy !== undefined) {
      const why = `Failed because allocation ${unhealthy.alloc.id.slice(0, 8)} (${unhealthy.alloc.name}) is unhealthy: ${unhealthy.health.reason ?? 'unhealthy'}`;
      return this.#fail(d, next, why, writes, now);
    }
    const stalled = groups.find(([, g]) => g.healthy < g.desired && now >= g.progressDeadline);
    if (stalled) return this.#fail(d, next, `Failed because group "${stalled[0]}" made no progress before its progress deadline`, writes, now);
    const oldLeft = this.#view.allocsByJob(d.jobId).some((a) => a.jobVersion !== d.jobVersion && !isTerminal(a) && next.groups[a.group] !== undefined);
    if (groups.every(([, g]) => g.healthy >= g.desired) && !oldLeft) {
      writes.push(this.#end(next, 'successful', 'Deployment completed successfully', now));
      writes.push(...this.#markStable(job));
      return { writes };
    }
    if (changedCounts(d, next)) writes.push({ table: 'deployments', id: d.id, value: { ...next, modifyTime: now }, ifModRevision: this.#view.modRevision('deployments', d.id) });
    // New healthy allocations make room for the next batch.
    if (progressed) writes.push(newEvalWrite(job, 'deployment-watcher', now).write);
    return { writes };
  }

  #fail(d: Deployment, next: Deployment, why: string, writes: Write[], now: number): Outcome {
    const autoRevert = Object.values(d.groups).some((g) => g.autoRevert);
    const job = this.#view.job(d.jobId)!;
    const stable = this.#view.jobVersions(d.jobId).find((v) => v.stable === true && v.version < d.jobVersion && !v.stop);
    // Reverting to a spec equal to the failing one would fail the same way, forever.
    const revertTo = autoRevert && stable !== undefined && specChanged(stable, job) ? stable.version : undefined;
    const suffix = autoRevert ? (revertTo !== undefined ? `; rolling back to job version ${revertTo}` : '; no stable version to roll back to') : '';
    this.#logger.warn({ deploymentId: d.id, jobId: d.jobId, reason: why }, 'deployment failed');
    writes.push(this.#end(next, 'failed', why + suffix, now));
    return { writes, revertTo };
  }

  async #revert(d: Deployment, version: number): Promise<void> {
    try {
      await this.#jobs.revert(d.jobId, version);
      this.#logger.info({ jobId: d.jobId, version }, 'auto-reverted');
    } catch (err) {
      this.#logger.error({ err, jobId: d.jobId, version }, 'auto-revert failed');
    }
  }

  #end(d: Deployment, status: Deployment['status'], why: string, now: number): Write {
    return { table: 'deployments', id: d.id, value: { ...d, status, statusDescription: why, modifyTime: now }, ifModRevision: this.#view.modRevision('deployments', d.id) };
  }

  /** A version whose deployment succeeded is stable: auto-revert may go back to it. */
  #markStable(job: Job): Write[] {
    const version = this.#view.jobVersion(job.id, job.version);
    const writes: Write[] = [{ table: 'jobs', id: job.id, value: { ...job, stable: true }, ifModRevision: this.#view.modRevision('jobs', job.id) }];
    if (version) writes.push({ table: 'jobVersions', id: `${job.id}/${job.version}`, value: { ...version, stable: true } });
    return writes;
  }
}

function changedCounts(a: Deployment, b: Deployment): boolean {
  return Object.keys(b.groups).some((g) => {
    const x = a.groups[g];
    const y = b.groups[g];
    return x.placed !== y.placed || x.healthy !== y.healthy || x.unhealthy !== y.unhealthy || x.progressDeadline !== y.progressDeadline || x.promoted !== y.promoted || x.canaries.length !== y.canaries.length;
  });
}
