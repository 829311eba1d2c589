/**
 * The periodic dispatcher: on the leader, launches periodic jobs at their scheduled times, and
 * dependent jobs once their parents succeeded. Its cursor is in the state (the run records, keyed
 * by job and scheduled time), so a restarted or new leader carries on where the last one stopped:
 * a launch missed by at most `epsilon` starts once, one missed by more is recorded as skipped.
 */
import { BerthError, type Job, type JobRun } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import { Controller, type Clock, type Logger } from '../../lib/index.ts';
import { nextLaunch } from '../../jobspec/index.ts';
import { launchWrites, observeRun, periodicChildId, runLive, skippedWrite } from './launch.ts';
import { dependentWrites, runId } from './dependencies.ts';
import { newEvalWrite } from '../evals/index.ts';
import { DEFAULT_RUNS_KEPT, pruneUnits } from './prune.ts';

/** Dispatcher settings. */
export interface DispatcherOptions {
  /** Longest sleep between passes (a pass also runs on state changes of jobs and allocations). Default 1 s. */
  maxSleepMs?: number;
  /**
   * Runs kept per job (`job runs`); older settled ones are deleted with their child jobs,
   * allocations and evaluations. Default 100 (DEFAULT_RUNS_KEPT).
   */
  runsKept?: number;
}

/** How many of a job's newest runs are kept up to date from their children's allocations. */
const RECENT_RUNS = 20;

/** Launches committed together in one txn at a busy minute. */
const UNITS_PER_TXN = 100;

/** More missed launches than this after an outage are recorded as one skipped run. */
const MAX_MISSED_RECORDS = 20;

/** Whether a job is a template launched by the dispatcher (never placed itself). */
export function isTemplate(job: Job): boolean {
  return job.periodic !== undefined || job.parameterized !== undefined || job.after !== undefined;
}

/** The periodic config with the anchor of an empty START: the registration of this version. */
export function scheduleOf(job: Job): NonNullable<Job['periodic']> {
  const p = job.periodic!;
  return p.anchorMs === undefined ? { ...p, anchorMs: job.submitTime } : p;
}

/** The scheduled time the job's schedule has been handled up to (launched or skipped). */
export function cursorOf(view: StateView, job: Job): number {
  const runs = view.runsByJob(job.id).filter((r) => r.trigger === 'periodic');
  const last = runs.length > 0 ? runs[runs.length - 1].scheduled : -Infinity;
  // Launches due before this version was registered belonged to the old spec.
  return Math.max(last, job.submitTime - 1);
}

/** The next launches of a periodic job, for `job status`. */
export function upcoming(view: StateView, job: Job, count: number): number[] {
  if (!job.periodic || job.stop || !job.periodic.enabled) return [];
  const out: number[] = [];
  let t = cursorOf(view, job);
  while (out.length < count) {
    const next = nextLaunch(scheduleOf(job), t);
    if (next === undefined) break;
    out.push(next);
    t = next;
  }
  return out;
}

/** Launches periodic and dependent jobs; runs on the leader. */
export class PeriodicDispatcher extends Controller {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #maxSleepMs: number;
  readonly #runsKept: number;
  #unsubscribe: (() => void) | undefined;
  /** The next due launch of each enabled periodic job (Infinity once its schedule ended). */
  readonly #due = new Map<string, number>();
  /** Jobs with `after`, checked on every pass. */
  readonly #dependents = new Set<string>();
  /** Jobs changed since the last pass, and templates whose children's allocations changed. */
  readonly #dirtyJobs = new Set<string>();
  readonly #dirtyParents = new Set<string>();
  /** The first pass looks at every job. */
  #all = true;

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger }, options: DispatcherOptions = {}) {
    // A pass returns when the next launch is due; the loop waits at least 5 ms so it never spins.
    super({ what: 'periodic dispatch', intervalMs: options.maxSleepMs ?? 1000, minDelayMs: 5, clock: deps.clock, logger: deps.logger });
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#maxSleepMs = options.maxSleepMs ?? 1000;
    this.#runsKept = Math.max(1, options.runsKept ?? DEFAULT_RUNS_KEPT);
  }

  override start(): void {
    this.#all = true;
    this.#unsubscribe = this.#view.onChange((_rev, changes) => {
      let wake = false;
      for (const c of changes) {
        if (c.table === 'jobs') {
          this.#dirtyJobs.add(c.id);
          const parent = this.#view.job(c.id)?.parentId;
          if (parent !== undefined) this.#dirtyParents.add(parent);
          wake = true;
        } else if (c.table === 'allocs') {
          const jobId = this.#view.alloc(c.id)?.jobId;
          const parent = jobId === undefined ? undefined : this.#view.job(jobId)?.parentId;
          if (parent !== undefined) this.#dirtyParents.add(parent);
          // A plain batch job may be the parent of a dependent one.
          if (parent !== undefined || this.#dependents.size > 0) wake = true;
        }
      }
      if (wake) this.poke();
    });
    super.start();
  }

  override async stop(): Promise<void> {
    this.#unsubscribe?.();
    await super.stop();
  }

  /**
   * One pass: refresh what changed (jobs, their children's allocations), launch what is due, and
   * check dependent jobs. Returns how long until the next launch is due (ms).
   */
  async pass(): Promise<number> {
    const now = this.#clock.now();
    if (this.#all) {
      this.#all = false;
      for (const job of this.#view.jobs()) {
        this.#dirtyJobs.add(job.id);
        if (isTemplate(job)) this.#dirtyParents.add(job.id);
      }
    }
    for (const id of this.#take(this.#dirtyJobs)) this.#refresh(id);
    const prunes: Write[][] = [];
    for (const id of this.#take(this.#dirtyParents)) {
      const job = this.#view.job(id);
      if (!job || !isTemplate(job)) continue;
      await this.#recordOutcomes(job);
      prunes.push(...pruneUnits(this.#view, id, this.#runsKept));
    }
    await this.#commitUnits(prunes, 'run prune');
    let until = this.#maxSleepMs;
    const units: Write[][] = [];
    const launched: string[] = [];
    for (const [id, due] of this.#due) {
      if (due > now) {
        until = Math.min(until, due - now);
        continue;
      }
      const job = this.#view.job(id);
      if (job) units.push(...this.#plan(job, this.#dueTimes(job, now), now));
      launched.push(id);
    }
    await this.#commitUnits(units);
    for (const id of launched) this.#refresh(id);
    if (units.length > 0) this.#logger.debug({ units: units.length }, 'periodic launches committed');
    for (const id of this.#dependents) {
      const job = this.#view.job(id);
      const writes = job && !job.stop ? dependentWrites(this.#view, job, now) : [];
      if (writes.length > 0) await this.#commitOne(writes, 'dependent launch');
    }
    return until;
  }

  #take(set: Set<string>): string[] {
    const ids = [...set];
    set.clear();
    return ids;
  }

  /** Recompute a job's next due launch and whether it depends on others. */
  #refresh(id: string): void {
    const job = this.#view.job(id);
    if (job?.after && !job.stop) this.#dependents.add(id);
    else this.#dependents.delete(id);
    if (!job?.periodic || job.stop || !job.periodic.enabled) {
      this.#due.delete(id);
      return;
    }
    this.#due.set(id, nextLaunch(scheduleOf(job), cursorOf(this.#view, job)) ?? Infinity);
  }

  /** The scheduled times of `job` due by `now` and not yet handled. */
  #dueTimes(job: Job, now: number): number[] {
    const config = scheduleOf(job);
    const due: number[] = [];
    let t = cursorOf(this.#view, job);
    for (;;) {
      const next = nextLaunch(config, t);
      if (next === undefined || next > now) break;
      due.push(next);
      t = next;
      if (due.length > 10_000) break;
    }
    return due;
  }

  /** The atomic units (each one txn) that launch or skip each due time of a job. */
  #plan(job: Job, due: number[], now: number): Write[][] {
    const epsilon = job.periodic!.epsilonMs;
    const late = due.filter((t) => now - t > epsilon);
    const onTime = due.filter((t) => now - t <= epsilon);
    const units: Write[][] = [];
    if (late.length > MAX_MISSED_RECORDS) {
      const reason = `missed ${late.length} launches from ${new Date(late[0]).toISOString()} (server down); more than epsilon late`;
      units.push([skippedWrite({ jobId: job.id, scheduled: late[late.length - 1], trigger: 'periodic', reason })]);
    } else {
      for (const t of late) units.push([skippedWrite({ jobId: job.id, scheduled: t, trigger: 'periodic', reason: `missed by ${Math.round((now - t) / 1000)}s, more than epsilon (${epsilon / 1000}s)` })]);
    }
    let launched = false;
    for (const t of onTime) {
      units.push(this.#launchUnit(job, t, 'periodic', now, launched));
      launched = true;
    }
    return units;
  }

  /** One launch as one txn: the run, the child and its evaluation, honouring `concurrency`. */
  #launchUnit(job: Job, scheduled: number, trigger: JobRun['trigger'], now: number, launchedBefore = false): Write[] {
    const live = this.#view.runsByJob(job.id).slice(-RECENT_RUNS).filter((r) => runLive(this.#view, r));
    const concurrency = job.periodic?.concurrency ?? 'allow';
    if ((live.length > 0 || launchedBefore) && concurrency === 'forbid' && trigger === 'periodic') {
      const reason = `concurrency forbid: run ${live[0]?.childId ?? 'launched just before'} is still running`;
      return [skippedWrite({ jobId: job.id, scheduled, trigger, reason })];
    }
    const stops: Write[] = [];
    if (concurrency === 'replace') for (const r of live) stops.push(...stopChild(this.#view, r.childId!, now));
    const childId = periodicChildId(job.id, scheduled) + (trigger === 'force' ? '-force' : '');
    return [...launchWrites(this.#view, { parent: job, scheduled, trigger, now, childId }).writes, ...stops];
  }

  /** Commit many units together (one txn, fast); if that conflicts, each on its own. */
  async #commitUnits(units: Write[][], what = 'launch'): Promise<void> {
    for (let i = 0; i < units.length; i += UNITS_PER_TXN) {
      const chunk = units.slice(i, i + UNITS_PER_TXN);
      if (chunk.length > 1 && (await this.#store.commit(chunk.flat())).ok) continue;
      for (const unit of chunk) await this.#commitOne(unit, what);
    }
  }

  /** `job periodic force`: launch now, whatever the schedule. */
  async force(jobId: string): Promise<JobRun> {
    const job = this.#view.job(jobId);
    if (!job?.periodic) throw new BerthError(job ? 'invalid_input' : 'not_found', `Cannot force job "${jobId}": ${job ? 'it is not periodic' : 'no such job'}`);
    if (job.stop) throw new BerthError('invalid_input', `Cannot force job "${jobId}": it is stopped; run it again first`);
    const now = this.#clock.now();
    const unit = this.#launchUnit(job, now, 'force', now);
    const run = (await this.#commitOne(unit, 'launch')) ? (unit[0].value as JobRun) : undefined;
    if (!run) throw new BerthError('conflict', `Cannot force job "${jobId}": a launch at this time exists already; try again`);
    return run;
  }

  /** Write each run's outcome as its child's allocations move. */
  async #recordOutcomes(job: Job): Promise<void> {
    // Older runs are settled: their children's allocations finished long ago.
    for (const run of this.#view.runsByJob(job.id).slice(-RECENT_RUNS)) {
      if (run.outcome === 'skipped' || ((run.outcome === 'complete' || run.outcome === 'failed') && !runLive(this.#view, { ...run, outcome: 'running' }))) continue;
      const next = observeRun(this.#view, run);
      if (JSON.stringify(next) === JSON.stringify(run)) continue;
      const id = runId(run);
      await this.#commitOne([{ table: 'runs', id, value: next, ifModRevision: this.#view.modRevision('runs', id) }], 'run update');
    }
  }

  async #commitOne(writes: Write[], what: string): Promise<boolean> {
    const result = await this.#store.commit(writes);
    if (!result.ok) this.#logger.debug({ conflicts: result.conflicts }, `${what}: already done elsewhere`);
    return result.ok;
  }
}

/** The writes that stop a child job (for `concurrency: replace`). */
function stopChild(view: StateView, childId: string, now: number): Write[] {
  const child = view.job(childId);
  if (!child || child.stop) return [];
  const stopped: Job = { ...child, stop: true, version: child.version + 1, submitTime: now };
  return [
    { table: 'jobs', id: childId, value: stopped, ifModRevision: view.modRevision('jobs', childId) },
    { table: 'jobVersions', id: `${childId}/${stopped.version}`, value: stopped },
    newEvalWrite(stopped, 'job-deregister', now).write,
  ];
}
