/**
 * Garbage collection, after Nomad's core scheduler: terminal allocations and evaluations, finished
 * deployments, stopped jobs, what purged jobs leave, job versions past a count and nodes down for
 * long go once older than their threshold. What `job status` and `alloc status` still need stays:
 * the allocations of a running job's current version, the evaluations that placed allocations
 * still live and a job's latest, a job's latest deployment, the versions live allocations or
 * deployments use.
 */
import { isClientTerminal, isTerminal, type Allocation, type Deployment, type Evaluation } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import { Controller, type Clock, type Logger } from '../../lib/index.ts';
import { runDeletes } from '../periodic/index.ts';
import { VERSIONS_KEPT } from '../jobs/index.ts';
import { latestEval } from '../evals/index.ts';
import type { GcResponse } from '../../api/index.ts';

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
  /** Versions a job keeps besides its current one. Default 19: 20 in all, as registration keeps (Nomad tracks 6). */
  versionsKept?: number;
  /** How often a pass runs. Default 5 min (job_gc_interval). */
  intervalMs?: number;
  /** Most rows deleted in one txn. Default 500 (128 on etcd, its default --max-txn-ops). */
  batchSize?: number;
}

/** Rows deleted by one collection, by kind: the wire shape of `PUT /v1/system/gc`. */
export type GcResult = GcResponse;

/** Thresholds resolved against the defaults. */
type Settings = Required<Omit<GcOptions, 'intervalMs' | 'batchSize'>>;

export const GC_DEFAULTS: Required<Omit<GcOptions, 'batchSize'>> = {
  jobThresholdMs: 4 * HOUR,
  evalThresholdMs: HOUR,
  batchEvalThresholdMs: 24 * HOUR,
  deploymentThresholdMs: HOUR,
  nodeThresholdMs: 24 * HOUR,
  versionsKept: VERSIONS_KEPT - 1,
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
    // At least a second between passes, whatever the interval: a collector never spins.
    super({ what: 'gc', intervalMs: o.intervalMs, minDelayMs: 1_000, clock: deps.clock, logger: deps.logger });
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

/** What every rule reads: the view, the settings, the time and the predicates. */
interface Scan {
  view: StateView;
  s: Settings;
  units: Write[][];
  del: (table: Write['table'], id: string) => Write;
  old: (time: number, threshold: number) => boolean;
  /** Gone from its node: finished, or stopped on a node that is not up (nothing will report it). */
  settled: (a: Allocation) => boolean;
}

const finalEval = (e: Evaluation): boolean => e.status === 'complete' || e.status === 'failed' || e.status === 'canceled';
const openDeployment = (d: Deployment): boolean => d.status === 'running' || d.status === 'paused';

/** Units of deletes (a unit goes in one txn when it fits one batch), children before parents. */
export function collectUnits(view: StateView, s: Settings, now: number): Write[][] {
  const scan: Scan = {
    view,
    s,
    units: [],
    // Guarded, so that a row written again meanwhile (a job registered again under a purged id) stays.
    del: (table, id) => ({ table, id, value: null, ifModRevision: view.modRevision(table, id) }),
    old: (time, threshold) => time + threshold <= now,
    settled: (a) => isClientTerminal(a) || (a.desiredStatus === 'stop' && view.node(a.nodeId)?.status !== 'ready'),
  };
  const jobIds = new Set<string>([...view.jobIdsWithVersions(), ...view.jobIdsWithRuns()]);
  for (const a of view.allocs()) jobIds.add(a.jobId);
  for (const e of view.evals()) jobIds.add(e.jobId);
  for (const d of view.deployments()) jobIds.add(d.jobId);
  for (const jobId of [...jobIds].sort()) if (!stoppedJob(scan, jobId)) jobLeftovers(scan, jobId);
  downNodes(scan);
  return scan.units;
}

/** A stopped job nothing of which runs or waits goes whole once stopped long enough; false if it stays. */
function stoppedJob({ view, s, units, del, old, settled }: Scan, jobId: string): boolean {
  const job = view.job(jobId);
  if (job?.stop !== true || !old(job.submitTime, s.jobThresholdMs)) return false;
  const allocs = view.allocsByJob(jobId);
  const evals = view.evalsByJob(jobId);
  if (allocs.some((a) => !isTerminal(a) || !settled(a)) || evals.some((e) => !finalEval(e))) return false;
  const unit: Write[] = [];
  // A template's runs go with their child jobs; a child still running keeps the whole job.
  for (const run of view.runsByJob(jobId)) {
    const runUnit = runDeletes(view, run);
    if (!runUnit) return false;
    unit.push(...runUnit);
  }
  for (const a of allocs) unit.push(del('allocs', a.id));
  for (const e of evals) unit.push(del('evals', e.id));
  for (const d of view.deploymentsByJob(jobId)) unit.push(del('deployments', d.id));
  for (const v of view.jobVersions(jobId)) unit.push(del('jobVersions', `${jobId}/${v.version}`));
  unit.push(del('jobs', jobId));
  units.push(unit);
  return true;
}

/** The rows of a live or purged job past their thresholds, each kind by its rule. */
function jobLeftovers({ view, s, units, del, old, settled }: Scan, jobId: string): void {
  const job = view.job(jobId);
  const allocs = view.allocsByJob(jobId);
  const live = (a: Allocation): boolean => !isTerminal(a) || !settled(a);
  const evalThreshold = job?.type === 'batch' ? s.batchEvalThresholdMs : s.evalThresholdMs;
  // Allocations: terminal and settled, past the threshold; never those of a running job's current version.
  const current = (a: Allocation): boolean => job !== undefined && !job.stop && a.jobVersion === job.version;
  for (const a of allocs) if (!current(a) && !live(a) && old(a.modifyTime, evalThreshold)) units.push([del('allocs', a.id)]);
  // Evaluations: final, past the threshold, that placed no allocation still live (Nomad's rule),
  // and not the latest of a job that exists (`job status` shows it): a long-lived job keeps
  // those, not one for every deploy, scale and report.
  const evals = view.evalsByJob(jobId);
  const keep = new Set(allocs.filter(live).map((a) => a.evalId));
  if (job) keep.add(latestEval(evals)?.id ?? '');
  for (const e of evals) if (finalEval(e) && !keep.has(e.id) && old(e.modifyTime, evalThreshold)) units.push([del('evals', e.id)]);
  // Deployments: finished, past the threshold; a job's latest stays while the job does (`job status` shows it).
  const deployments = view.deploymentsByJob(jobId);
  const latest = job ? view.latestDeployment(jobId)?.id : undefined;
  for (const d of deployments) {
    if (!openDeployment(d) && d.id !== latest && old(d.modifyTime, s.deploymentThresholdMs)) units.push([del('deployments', d.id)]);
  }
  // Versions: all of a purged job; of a live one, those past the newest kept, unless still in use.
  const versions = view.jobVersions(jobId);
  const used = new Set<number>();
  if (job && versions.length > s.versionsKept + 1) {
    used.add(job.version);
    for (const a of allocs) if (live(a)) used.add(a.jobVersion);
    for (const d of deployments) if (openDeployment(d)) used.add(d.jobVersion);
    // Auto-revert goes back to the newest stable version.
    const stable = versions.find((v) => v.stable === true && v.version !== job.version);
    if (stable) used.add(stable.version);
    for (const v of versions.filter((v) => v.version !== job.version).slice(0, s.versionsKept)) used.add(v.version);
  } else if (job) return;
  for (const v of versions) if (!used.has(v.version)) units.push([del('jobVersions', `${jobId}/${v.version}`)]);
  // Runs of a template that no longer exists, with their settled child jobs.
  if (job) return;
  for (const run of view.runsByJob(jobId)) {
    const unit = runDeletes(view, run);
    if (unit) units.push(unit);
  }
}

/** Nodes down past the threshold with nothing live on them, and their secrets. */
function downNodes({ view, s, units, del, old }: Scan): void {
  for (const node of view.nodes()) {
    if (node.status !== 'down' || !old(node.downSince ?? node.lastHeartbeat, s.nodeThresholdMs)) continue;
    if (view.allocsByNode(node.id).some((a) => !isClientTerminal(a))) continue;
    const unit = [del('nodes', node.id)];
    if (view.nodeSecret(node.id)) unit.unshift(del('nodeSecrets', node.id));
    units.push(unit);
  }
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
