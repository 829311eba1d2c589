/**
 * Garbage collection, after Nomad's core scheduler: terminal allocations and evaluations, finished
 * deployments, stopped jobs, what purged jobs leave, job versions past a count and nodes down for
 * long go once older than their threshold. What `job status` and `alloc status` still need stays:
 * the allocations of a running job's current version, the evaluations of a job with allocations
 * still live, a job's latest deployment, the versions live allocations or deployments use.
 */
import { isClientTerminal, isTerminal, type Allocation, type Evaluation, type Job } from '../../model/index.ts';
import { runRowId, type StateStore, type StateView, type Write } from '../../state/index.ts';
import { Controller, type Clock, type Logger } from '../../lib/index.ts';
import { runDeletes } from '../periodic/index.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The thresholds; Nomad's defaults where Nomad has the same setting. */
export interface GcOptions {
  /** A stopped job goes this long after it was stopped (its last submit), once nothing of it runs. Default 4 h (Nomad's job_gc_threshold). */
  jobThresholdMs?: number;
  /** A terminal evaluation, and a terminal allocation, goes this long after its last change. Default 1 h (eval_gc_threshold). */
  evalThresholdMs?: number;
  /** The same for batch jobs, whose results people come back for. Default 24 h (batch_eval_gc_threshold). */
  batchEvalThresholdMs?: number;
  /** A finished deployment goes this long after it finished. Default 1 h (deployment_gc_threshold). */
  deploymentThresholdMs?: number;
  /** A node down this long goes, with its secret, once nothing on it is live. Default 24 h (node_gc_threshold). */
  nodeThresholdMs?: number;
  /** Versions a job keeps besides its current one. Default 5 (Nomad tracks 6 in all). */
  versionsKept?: number;
  /** How often a pass runs. Default 5 min (job_gc_interval). */
  intervalMs?: number;
  /** Most rows deleted in one txn. Default 500 (128 on etcd, its default --max-txn-ops). */
  batchSize?: number;
}

/** Rows deleted by one collection, by kind. */
export interface GcResult {
  jobs: number;
  jobVersions: number;
  allocs: number;
  evals: number;
  deployments: number;
  runs: number;
  nodes: number;
  nodeSecrets: number;
  /** Batches that lost a race with another write (their rows are looked at again next pass). */
  conflicts: number;
}

/** Thresholds resolved against the defaults. */
type Settings = Required<Omit<GcOptions, 'intervalMs' | 'batchSize'>>;

export const GC_DEFAULTS: Required<Omit<GcOptions, 'batchSize'>> = {
  jobThresholdMs: 4 * HOUR,
  evalThresholdMs: HOUR,
  batchEvalThresholdMs: 24 * HOUR,
  deploymentThresholdMs: HOUR,
  nodeThresholdMs: 24 * HOUR,
  versionsKept: 5,
  intervalMs: 5 * MINUTE,
};

/**
 * The leader's collector. A pass reads the view once, builds the deletes (each guarded by the
 * row's modRevision where the row may still change) and commits them in batches, yielding to the
 * event loop between batches so that the scheduler's writes go in between. `collect(true)` (for
 * `berth system gc`) ignores the thresholds, as Nomad's forced collection does; never the rules
 * above.
 */
export class GarbageCollector extends Controller {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #settings: Settings;
  readonly #batchSize: number;
  /** One collection at a time: a forced one waits for the pass under way. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger; backendName?: string }, options: GcOptions = {}) {
    const o = { ...GC_DEFAULTS, ...options };
    super({ what: 'gc', intervalMs: o.intervalMs, clock: deps.clock, logger: deps.logger });
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#settings = {
      jobThresholdMs: o.jobThresholdMs,
      evalThresholdMs: o.evalThresholdMs,
      batchEvalThresholdMs: o.batchEvalThresholdMs,
      deploymentThresholdMs: o.deploymentThresholdMs,
      nodeThresholdMs: o.nodeThresholdMs,
      versionsKept: o.versionsKept,
    };
    this.#batchSize = Math.max(1, options.batchSize ?? (deps.backendName === 'etcd' ? 128 : 500));
  }

  protected async pass(): Promise<void> {
    await this.collect(false);
  }

  /** Collect now; `force` ignores the thresholds. */
  collect(force: boolean): Promise<GcResult> {
    const run = this.#chain.then(() => this.#collect(force));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #collect(force: boolean): Promise<GcResult> {
    const result: GcResult = { jobs: 0, jobVersions: 0, allocs: 0, evals: 0, deployments: 0, runs: 0, nodes: 0, nodeSecrets: 0, conflicts: 0 };
    const units = collectUnits(this.#view, this.#settings, force ? Number.POSITIVE_INFINITY : this.#clock.now());
    for (const batch of batches(units, this.#batchSize)) {
      const outcome = await this.#store.commit(batch);
      if (outcome.ok) for (const w of batch) result[w.table as keyof Omit<GcResult, 'conflicts'>]++;
      else result.conflicts++;
      // Let the scheduler and the API in between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const total = Object.entries(result).reduce((n, [k, v]) => (k === 'conflicts' ? n : n + v), 0);
    if (total > 0 || result.conflicts > 0) this.#logger.info({ ...result, force }, 'garbage collected');
    return result;
  }
}

/** Units of deletes (a unit goes in one txn when it fits one batch), in a safe order: children before parents. */
export function collectUnits(view: StateView, s: Settings, now: number): Write[][] {
  const units: Write[][] = [];
  const del = (table: Write['table'], id: string, guard = true): Write => ({ table, id, value: null, ...(guard ? { ifModRevision: view.modRevision(table, id) } : {}) });
  const old = (time: number, threshold: number): boolean => time + threshold <= now;
  const evalThreshold = (job: Job | undefined): number => (job?.type === 'batch' ? s.batchEvalThresholdMs : s.evalThresholdMs);
  /** Gone from its node: it runs nowhere (finished, or stopped on a node that no longer exists). */
  const settled = (a: Allocation): boolean => isClientTerminal(a) || (a.desiredStatus === 'stop' && view.node(a.nodeId)?.status !== 'ready');
  const finalEval = (e: Evaluation): boolean => e.status === 'complete' || e.status === 'failed' || e.status === 'canceled';

  const jobIds = new Set<string>([...view.jobIdsWithVersions(), ...view.jobIdsWithRuns()]);
  for (const a of view.allocs()) jobIds.add(a.jobId);
  for (const e of view.evals()) jobIds.add(e.jobId);
  for (const d of view.deployments()) jobIds.add(d.jobId);

  for (const jobId of [...jobIds].sort()) {
    const job = view.job(jobId);
    const allocs = view.allocsByJob(jobId);
    const evals = view.evalsByJob(jobId);
    const deployments = view.deploymentsByJob(jobId);
    const liveAllocs = allocs.some((a) => !isTerminal(a) || !settled(a));
    const openEvals = evals.some((e) => !finalEval(e));

    // A stopped job nothing of which runs or waits goes whole, once stopped long enough.
    if (job?.stop === true && !liveAllocs && !openEvals && old(job.submitTime, s.jobThresholdMs)) {
      const unit: Write[] = [];
      for (const run of view.runsByJob(jobId)) unit.push({ table: 'runs', id: runRowId(jobId, run.scheduled), value: null });
      for (const a of allocs) unit.push(del('allocs', a.id));
      for (const e of evals) unit.push(del('evals', e.id));
      for (const d of deployments) unit.push(del('deployments', d.id));
      for (const v of view.jobVersions(jobId)) unit.push(del('jobVersions', `${jobId}/${v.version}`, false));
      unit.push(del('jobs', jobId));
      units.push(unit);
      continue;
    }

    // Allocations: terminal and settled, past the threshold; never those of a running job's current version.
    const current = (a: Allocation): boolean => job !== undefined && !job.stop && a.jobVersion === job.version;
    for (const a of allocs) {
      if (current(a) || !isTerminal(a) || !settled(a) || !old(a.modifyTime, evalThreshold(job))) continue;
      units.push([del('allocs', a.id)]);
    }
    // Evaluations: final, past the threshold, and only once nothing of the job is live.
    if (!liveAllocs) {
      for (const e of evals) if (finalEval(e) && old(e.modifyTime, evalThreshold(job))) units.push([del('evals', e.id)]);
    }
    // Deployments: finished, past the threshold; a live job's latest stays (`job status` shows it).
    const latest = job ? view.latestDeployment(jobId)?.id : undefined;
    for (const d of deployments) {
      if (d.status === 'running' || d.status === 'paused' || d.id === latest || !old(d.modifyTime, s.deploymentThresholdMs)) continue;
      units.push([del('deployments', d.id)]);
    }
    // Versions: all of a purged job; of a live one, those past the newest kept, unless still in use.
    const versions = view.jobVersions(jobId);
    if (!job) {
      for (const v of versions) units.push([del('jobVersions', `${jobId}/${v.version}`, false)]);
    } else if (versions.length > s.versionsKept + 1) {
      const used = new Set<number>([job.version]);
      for (const a of allocs) if (!isTerminal(a) || !settled(a)) used.add(a.jobVersion);
      for (const d of deployments) if (d.status === 'running' || d.status === 'paused') used.add(d.jobVersion);
      // Auto-revert goes back to the newest stable version.
      const stable = versions.find((v) => v.stable === true && v.version !== job.version);
      if (stable) used.add(stable.version);
      const kept = new Set(versions.filter((v) => v.version !== job.version).slice(0, s.versionsKept).map((v) => v.version));
      for (const v of versions) if (!used.has(v.version) && !kept.has(v.version)) units.push([del('jobVersions', `${jobId}/${v.version}`, false)]);
    }
    // Runs of a template that no longer exists, with their settled child jobs.
    if (!job) {
      for (const run of view.runsByJob(jobId)) {
        const unit = runDeletes(view, run);
        if (unit) units.push(unit);
      }
    }
  }

  // Nodes down past the threshold with nothing live on them, and their secrets.
  for (const node of view.nodes()) {
    if (node.status !== 'down' || !old(node.downSince ?? node.lastHeartbeat, s.nodeThresholdMs)) continue;
    if (view.allocsByNode(node.id).some((a) => !isClientTerminal(a))) continue;
    const unit = [del('nodes', node.id)];
    if (view.nodeSecret(node.id)) unit.unshift(del('nodeSecrets', node.id));
    units.push(unit);
  }
  return units;
}

/** Units packed into batches of at most `size` writes; a unit larger than a batch is split, its last write (the parent) last. */
function* batches(units: Write[][], size: number): Generator<Write[]> {
  let batch: Write[] = [];
  for (const unit of units) {
    if (batch.length + unit.length > size && batch.length > 0) {
      yield batch;
      batch = [];
    }
    for (const w of unit) {
      batch.push(w);
      if (batch.length === size) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}
