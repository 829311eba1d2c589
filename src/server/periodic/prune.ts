/**
 * Run history is bounded: a template job keeps its newest runs (100 by default, a server option)
 * and older settled ones go together with what they launched (the child job, its versions,
 * allocations and evaluations), as Nomad's garbage collector removes dead child jobs. The
 * newest periodic and dependent runs always stay: they are the dispatcher's cursors.
 */
import { isTerminal, type JobRun } from '../../model/index.ts';
import type { StateView, Write } from '../../state/index.ts';
import { runId } from './dependencies.ts';
import { runLive } from './launch.ts';

/** How many runs a job keeps when the server names no other number. */
export const DEFAULT_RUNS_KEPT = 100;

/** The deletes of each run of `jobId` beyond the newest `keep`, one unit (one txn) a run. */
export function pruneUnits(view: StateView, jobId: string, keep: number): Write[][] {
  const runs = view.runsByJob(jobId);
  if (runs.length <= keep) return [];
  const cursors = new Set(['periodic', 'after'].map((trigger) => runs.findLast((r) => r.trigger === trigger)).filter((r) => r !== undefined));
  const units: Write[][] = [];
  for (const run of runs.slice(0, runs.length - keep)) {
    if (cursors.has(run)) continue;
    const unit = runDeletes(view, run);
    if (unit) units.push(unit);
  }
  return units;
}

/** The deletes of one run and its child, or undefined while the child may still run. */
export function runDeletes(view: StateView, run: JobRun): Write[] | undefined {
  const id = runId(run);
  const writes: Write[] = [{ table: 'runs', id, value: null, ifModRevision: view.modRevision('runs', id) }];
  const childId = run.childId;
  if (childId === undefined || !view.job(childId)) return writes;
  if (runLive(view, run)) return undefined;
  const allocs = view.allocsByJob(childId);
  const evals = view.evalsByJob(childId);
  // A retry still to be placed, or an allocation a node still runs, keeps the run.
  if (allocs.some((a) => !isTerminal(a)) || evals.some((e) => e.status === 'pending' || e.status === 'blocked')) return undefined;
  writes.push({ table: 'jobs', id: childId, value: null, ifModRevision: view.modRevision('jobs', childId) });
  for (const v of view.jobVersions(childId)) writes.push({ table: 'jobVersions', id: `${childId}/${v.version}`, value: null });
  for (const a of allocs) writes.push({ table: 'allocs', id: a.id, value: null, ifModRevision: view.modRevision('allocs', a.id) });
  for (const e of evals) writes.push({ table: 'evals', id: e.id, value: null });
  for (const d of view.deploymentsByJob(childId)) writes.push({ table: 'deployments', id: d.id, value: null });
  return writes;
}
