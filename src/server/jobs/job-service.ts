import { BerthError, isClientTerminal, isTerminal, type Allocation, type Evaluation, type Job, type JobStatus } from '../../model/index.ts';
import type { GroupSummary, JobListItem, JobRegisterResponse, JobStopResponse, JobSummary } from '../../api/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import type { Clock } from '../../lib/index.ts';
import { latestEval, newEvalWrite } from '../evals/index.ts';
import { checkNoCycle } from '../periodic/index.ts';
import { cancelActive, deploymentWrites } from './deployment-writes.ts';
import { checkIngress, ingressClaimWrites, releaseIngressClaims } from './ingress-check.ts';
import { DEFAULT_SERVICE_ADDRESS_RANGE, parseAddressRange, serviceAddressWrites, type AddressRange } from './service-addresses.ts';

/** A job as the user specified it: everything but the fields berth owns. */
export type JobSpec = Omit<Job, 'version' | 'stop' | 'submitTime'>;

/** Job registration, stop and read models. Routes call it; it holds no HTTP knowledge. */
export class JobService {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;

  /** Versions kept (the current one included) when a new one is registered; the collector keeps the same. */
  readonly #versionsKept: number;
  /** Where service addresses come from. */
  readonly #addressRange: AddressRange;

  /** `serviceAddressRange`: the IPv4 CIDR block service addresses are given from; default 198.18.0.0/16. */
  constructor(deps: { view: StateView; store: StateStore; clock: Clock }, options: { versionsKept?: number; serviceAddressRange?: string } = {}) {
    this.#versionsKept = Math.max(1, options.versionsKept ?? VERSIONS_KEPT);
    this.#addressRange = parseAddressRange(options.serviceAddressRange ?? DEFAULT_SERVICE_ADDRESS_RANGE);
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /**
   * Register a job: store version N+1 (or keep N when the spec is unchanged) and an evaluation,
   * in one txn that fails if the job changed since it was read.
   */
  async register(spec: JobSpec, options: { checkIndex?: number } = {}): Promise<JobRegisterResponse> {
    let out: Omit<JobRegisterResponse, 'index'> | undefined;
    const index = await this.#commit((view) => {
      checkNoCycle(view, spec);
      checkIngress(view, spec);
      const prev = view.job(spec.id);
      if (options.checkIndex !== undefined) checkModifyIndex(view, spec.id, options.checkIndex);
      const changed = specChanged(prev, spec);
      const version = prev ? (changed ? prev.version + 1 : prev.version) : 0;
      const now = this.#clock.now();
      const job: Job = { ...spec, version, stop: false, submitTime: changed || !prev ? now : prev.submitTime };
      const { evaluation, write } = newEvalWrite(job, 'job-register', now);
      out = { jobId: job.id, version, evalId: evaluation.id, changed };
      const warnings = missingDependencies(view, job);
      if (warnings.length > 0) out.warnings = warnings;
      const writes: Write[] = [{ table: 'jobs', id: job.id, value: job, ifModRevision: view.modRevision('jobs', job.id) }, write];
      writes.push(...serviceAddressWrites(view, job.groups, this.#addressRange), ...ingressClaimWrites(view, job));
      if (changed) {
        writes.push({ table: 'jobVersions', id: `${job.id}/${version}`, value: job }, ...pruneVersions(view, job.id, version, this.#versionsKept));
        const d = deploymentWrites(view, job, now);
        writes.push(...d.writes);
        if (d.deployment) out.deploymentId = d.deployment.id;
      }
      return writes;
    });
    return { ...out!, index };
  }

  /** Change one group's count: a new version, updated in place (no allocation restarts). */
  async scale(jobId: string, group: string | undefined, count: number): Promise<JobRegisterResponse> {
    const job = this.get(jobId);
    const name = group ?? (job.groups.length === 1 ? job.groups[0].name : undefined);
    if (name === undefined) throw new BerthError('invalid_input', `Cannot scale job "${jobId}": it has groups ${job.groups.map((g) => g.name).join(', ')}; name one`);
    if (!job.groups.some((g) => g.name === name)) throw new BerthError('not_found', `Cannot scale job "${jobId}": no group "${name}" (groups: ${job.groups.map((g) => g.name).join(', ')})`);
    const { version: _v, stop: _s, submitTime: _t, stable: _st, ...spec } = job;
    return this.register({ ...spec, groups: job.groups.map((g) => (g.name === name ? { ...g, count } : g)) });
  }

  /**
   * Replace the given live allocations of a job with fresh ones (`job restart`): they are marked
   * to migrate, and an evaluation places each replacement and stops the original.
   */
  async restartAllocs(jobId: string, allocIds: string[]): Promise<{ evalId: string; index: number; restarted: string[] }> {
    let evalId = '';
    let restarted: string[] = [];
    const index = await this.#commit((view) => {
      const job = view.job(jobId);
      if (!job) throw new BerthError('not_found', `Cannot restart job "${jobId}": no such job (see \`berth job status\`)`);
      const now = this.#clock.now();
      const live = view.allocsByJob(jobId).filter((a) => allocIds.includes(a.id) && !isTerminal(a));
      restarted = live.map((a) => a.id);
      const writes: Write[] = live.map((a) => ({ table: 'allocs' as const, id: a.id, value: { ...a, migrate: true, modifyTime: now }, ifModRevision: view.modRevision('allocs', a.id) }));
      const e = newEvalWrite(job, 'job-register', now);
      evalId = e.evaluation.id;
      writes.push(e.write);
      return writes;
    });
    return { evalId, index, restarted };
  }

  /** Register a stored version's spec again, as a new version (`job revert`). */
  async revert(jobId: string, version: number, options: { checkIndex?: number } = {}): Promise<JobRegisterResponse> {
    const current = this.get(jobId);
    const old = this.#view.jobVersion(jobId, version);
    if (!old) throw new BerthError('not_found', `Cannot revert job "${jobId}" to version ${version}: no such version (see \`berth job history ${jobId}\`)`);
    if (old.version === current.version && !current.stop) {
      throw new BerthError('invalid_input', `Cannot revert job "${jobId}" to version ${version}: it is the current version`);
    }
    const { version: _v, stop: _s, submitTime: _t, stable: _st, ...spec } = old;
    return this.register(spec, options);
  }

  /** Stop a job (its allocations are stopped by the scheduler); with `purge`, forget it too. */
  async stop(jobId: string, purge: boolean): Promise<JobStopResponse> {
    let evalId = '';
    const index = await this.#commit((view) => {
      const prev = view.job(jobId);
      if (!prev) throw new BerthError('not_found', `Cannot stop job "${jobId}": no such job (see \`berth job status\`)`);
      const { evaluation, write } = newEvalWrite(prev, 'job-deregister', this.#clock.now());
      evalId = evaluation.id;
      const writes: Write[] = [write, ...cancelActive(view, { jobId, why: 'Cancelled because the job was stopped', now: this.#clock.now() }), ...releaseIngressClaims(view, jobId)];
      if (purge) {
        writes.push({ table: 'jobs', id: jobId, value: null, ifModRevision: view.modRevision('jobs', jobId) });
        // Finished allocations (a batch job's) are not stopped by the scheduler: stopped here, so
        // their nodes remove what they left (an exited container) now rather than at garbage collection.
        const now = this.#clock.now();
        for (const a of view.allocsByJob(jobId).filter((x) => x.desiredStatus === 'run' && isClientTerminal(x))) {
          writes.push({ table: 'allocs', id: a.id, value: { ...a, desiredStatus: 'stop', desiredDescription: 'job purged', modifyTime: now }, ifModRevision: view.modRevision('allocs', a.id) });
        }
        for (const v of view.jobVersions(jobId)) writes.push({ table: 'jobVersions', id: `${jobId}/${v.version}`, value: null });
      } else if (!prev.stop) {
        const job: Job = { ...prev, stop: true, version: prev.version + 1, submitTime: this.#clock.now() };
        writes.push({ table: 'jobs', id: jobId, value: job, ifModRevision: view.modRevision('jobs', jobId) });
        writes.push({ table: 'jobVersions', id: `${jobId}/${job.version}`, value: job });
      }
      return writes;
    });
    return { jobId, evalId, purged: purge, index };
  }

  /** The job, or a not_found error naming it. */
  get(jobId: string): Job {
    const job = this.#view.job(jobId);
    if (!job) throw new BerthError('not_found', `Cannot find job "${jobId}": no such job (see \`berth job status\`)`);
    return job;
  }

  list(): JobListItem[] {
    return this.#view
      .jobs()
      .map((job) => {
        const groups = summarize(job, this.#view.allocsByJob(job.id));
        return {
          id: job.id,
          type: job.type,
          priority: job.priority,
          version: job.version,
          stop: job.stop,
          status: jobStatus(job, groups),
          summary: groups,
          submitTime: job.submitTime,
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  summary(jobId: string): JobSummary {
    const job = this.get(jobId);
    const groups = summarize(job, this.#view.allocsByJob(jobId));
    return { jobId, status: jobStatus(job, groups), version: job.version, groups, latestEval: latestEval(this.#view.evalsByJob(jobId)) };
  }

  /** Evaluations of a job, newest first. */
  evaluations(jobId: string): Evaluation[] {
    return [...this.#view.evalsByJob(jobId)].sort((a, b) => b.createTime - a.createTime);
  }

  async #commit(build: (view: StateView) => Write[]): Promise<number> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await this.#store.commit(build(this.#view));
      if (result.ok) return result.index;
    }
    throw new BerthError('conflict', 'Cannot write the job: it kept changing concurrently; try again');
  }
}

/** How many versions of a job are kept by default, the current one included; older ones go unless a live allocation still runs them. */
export const VERSIONS_KEPT = 20;

/** Deletes of the versions that fall out of the last `kept` once `newest` is stored. */
function pruneVersions(view: StateView, jobId: string, newest: number, kept: number): Write[] {
  // In use while a node still runs it, stopped or not (as the collector counts it).
  const inUse = new Set(view.allocsByJob(jobId).filter((a) => !isClientTerminal(a)).map((a) => a.jobVersion));
  return view
    .jobVersions(jobId)
    .filter((v) => v.version <= newest - kept && !inUse.has(v.version))
    .map((v) => ({ table: 'jobVersions' as const, id: `${jobId}/${v.version}`, value: null }));
}

/** A warning for each job the spec waits for that does not exist: allowed, the job is held until it does. */
function missingDependencies(view: StateView, job: Job): { path: string; message: string }[] {
  const names = [...(job.after ?? []).map((id, i) => ({ id, path: `after[${i}]` })), ...(job.dependsOn ?? []).map((d, i) => ({ id: d.job, path: `after[${i}].job` }))];
  return names
    .filter((n) => view.job(n.id) === undefined)
    .map((n) => ({ path: n.path, message: `job "${n.id}" does not exist yet; "${job.id}" waits until it is registered and meets the condition` }));
}

/** `--check-index`: the job must still be at `index` (0: must not exist), or nothing is written. */
function checkModifyIndex(view: StateView, jobId: string, index: number): void {
  const current = view.job(jobId) ? view.modRevision('jobs', jobId) : 0;
  if (current !== index) {
    throw new BerthError(
      'conflict',
      `Cannot register job "${jobId}": --check-index ${index} does not match its current modify index ${current}; run \`berth job plan\` again`,
      [{ path: 'checkIndex', message: `current modify index is ${current}` }],
    );
  }
}

/** The user-owned part of a job, to tell whether a registration changes anything. */
function specKey(job: JobSpec): string {
  const { id, type, priority, datacenters, groups, meta, constraints, affinities, spreads, maxRunDurationMs } = job;
  const { periodic, parameterized, after, dependsOn } = job;
  return JSON.stringify({ id, type, priority, datacenters, groups, meta, constraints, affinities, spreads, maxRunDurationMs, periodic, parameterized, after, dependsOn });
}

/** Whether a spec differs from the job as registered (a new version). */
export function specChanged(prev: Job | undefined, spec: JobSpec): boolean {
  return !prev || prev.stop || specKey(prev) !== specKey(spec);
}

/** Counts of the job's allocations by group and client status. Stopped allocations count once stopped. */
export function summarize(job: Job, allocs: Allocation[]): Record<string, GroupSummary> {
  const out: Record<string, GroupSummary> = {};
  for (const g of job.groups) out[g.name] = { desired: job.stop ? 0 : g.count, pending: 0, running: 0, complete: 0, failed: 0, lost: 0 };
  for (const a of allocs) {
    const s = out[a.group];
    if (!s) continue;
    // A lost allocation is stopped by the scheduler as it is replaced, and still counts as lost.
    if (a.desiredStatus === 'stop' && a.clientStatus !== 'running' && a.clientStatus !== 'pending' && a.clientStatus !== 'lost') continue;
    if (a.desiredStatus === 'stop' && a.clientStatus === 'pending') continue;
    s[a.clientStatus] += 1;
  }
  return out;
}

/** pending: something wanted is not running yet; running: it runs; dead: nothing will run. */
export function jobStatus(job: Job, groups: Record<string, GroupSummary>): JobStatus {
  const all = Object.values(groups);
  const active = all.reduce((n, g) => n + g.running + g.pending, 0);
  if (job.stop) return active > 0 ? 'running' : 'dead';
  if (job.type === 'batch' && all.every((g) => g.complete + g.failed >= g.desired)) return 'dead';
  if (all.some((g) => g.running > 0)) return 'running';
  return 'pending';
}

/** Allocations that are wanted and not finished, for views that hide history. */
export function liveAllocs(allocs: Allocation[]): Allocation[] {
  return allocs.filter((a) => !isTerminal(a));
}
