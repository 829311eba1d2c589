/**
 * Dependencies between batch jobs (`after: [a, b]`, Chronos' parents): a dependent job runs once
 * every parent has succeeded since its own last run; a failed parent holds it, recorded as a
 * skipped run that names the parent. Launches are keyed by the newest parent success, so a
 * success launches its dependents once.
 */
import type { Job, JobRun } from '../../model/index.ts';
import { runRowId, type StateView, type Write } from '../../state/index.ts';
import { launchWrites, observeRun, skippedWrite } from './launch.ts';

/** How a parent last finished: the end time of its newest finished run, and whether it succeeded. */
export interface ParentResult {
  outcome: 'complete' | 'failed';
  end: number;
  /** The run that finished: the template's child job, or the plain job itself. */
  run: string;
}

/** The newest finished run of a job: its runs when it is a template, else its own allocations. */
export function lastResult(view: StateView, jobId: string): ParentResult | undefined {
  const job = view.job(jobId);
  if (!job) return undefined;
  if (job.periodic || job.parameterized || job.after) {
    // A run marked successful finished, for its dependents, when it was marked.
    const endOf = (r: JobRun): number => Math.max(r.end ?? 0, r.markedSuccess?.at ?? 0);
    const done = view.runsByJob(jobId).filter((r) => (r.outcome === 'complete' || r.outcome === 'failed') && (r.end !== undefined || r.markedSuccess !== undefined));
    const last = done.sort((a, b) => endOf(a) - endOf(b)).at(-1);
    return last ? { outcome: last.outcome as ParentResult['outcome'], end: endOf(last), run: last.childId ?? jobId } : undefined;
  }
  const seen = observeRun(view, { jobId, scheduled: 0, childId: jobId, trigger: 'after', outcome: 'pending', allocIds: [] });
  if ((seen.outcome === 'complete' || seen.outcome === 'failed') && seen.end !== undefined) {
    const marked = Math.max(0, ...view.allocsByJob(jobId).map((a) => a.markedSuccess?.at ?? 0));
    return { outcome: seen.outcome, end: Math.max(seen.end, marked), run: jobId };
  }
  return undefined;
}

/** When a dependent job last ran (or was held): results of its parents before it do not count. */
function sinceOf(view: StateView, job: Job): number {
  const runs = view.runsByJob(job.id).filter((r) => r.trigger === 'after');
  return Math.max(job.submitTime, ...runs.map((r) => r.scheduled));
}

/** The writes that launch or hold a dependent job now, or none. */
export function dependentWrites(view: StateView, job: Job, now: number): Write[] {
  const since = sinceOf(view, job);
  const results = job.after!.map((p) => ({ parent: p, result: lastResult(view, p) }));
  const failed = results.find((r) => r.result?.outcome === 'failed' && r.result.end > since);
  if (failed) {
    const at = failed.result!.end;
    if (view.run(job.id, at)) return [];
    const heldBy = { parent: failed.parent, run: failed.result!.run, failedAt: at };
    const reason = `held: parent ${failed.parent} failed at ${new Date(at).toISOString()} (run ${heldBy.run})`;
    return [skippedWrite({ jobId: job.id, scheduled: at, trigger: 'after', reason, heldBy })];
  }
  if (!results.every((r) => r.result?.outcome === 'complete' && r.result.end > since)) return [];
  const trigger = Math.max(...results.map((r) => r.result!.end));
  if (view.run(job.id, trigger)) return [];
  const childId = `${job.id}/after-${trigger}`;
  return launchWrites(view, { parent: job, scheduled: trigger, trigger: 'after', now, childId }).writes;
}

/** A run's row id. */
export function runId(run: Pick<JobRun, 'jobId' | 'scheduled'>): string {
  return runRowId(run.jobId, run.scheduled);
}
