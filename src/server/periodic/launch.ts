/**
 * The writes of one launch of a template job (periodic, dispatched, dependent): its run record,
 * the child job and its evaluation, committed together. The run row must not exist yet
 * (`ifModRevision: 0`), so a scheduled time launches once, whoever tries it and however often.
 */
import { isTerminal, type HeldBy, type Job, type JobRun, type ReschedulePolicy } from '../../model/index.ts';
import { runRowId, type StateView, type Write } from '../../state/index.ts';
import { newEvalWrite } from '../evals/index.ts';

/** What a launch is about. */
export interface LaunchRequest {
  parent: Job;
  /** The run's key: the scheduled time, or the trigger's time for other launches. */
  scheduled: number;
  trigger: JobRun['trigger'];
  now: number;
  /** The child's id. */
  childId: string;
  /** Dispatch: meta added to the child (and its tasks' env as BERTH_META_<key>). */
  meta?: Record<string, string>;
  /** Dispatch: the payload, base64. */
  payload?: string;
  /** Dispatch: the caller's idempotency token, kept on the run. */
  idempotencyToken?: string;
}

/** How long a run's retries may take, for the `retries` shorthand. */
const RETRY_WINDOW_MS = 24 * 3600_000;

/** The child id of a periodic launch: `<id>/periodic-<unix seconds>` as Nomad names them. */
export function periodicChildId(parentId: string, scheduledMs: number): string {
  return `${parentId}/periodic-${Math.floor(scheduledMs / 1000)}`;
}

/** The child job a template launches: its spec without the triggers, owned by the parent. */
export function childJob(req: LaunchRequest): Job {
  const { periodic, parameterized: _p, after: _a, ...rest } = structuredClone(req.parent);
  const meta = { ...rest.meta, ...req.meta };
  const child: Job = { ...rest, id: req.childId, parentId: req.parent.id, meta, version: 0, stop: false, submitTime: req.now };
  if (req.payload !== undefined) child.payload = req.payload;
  const retry = retryPolicy(periodic?.retries, periodic?.retryDelayMs);
  for (const group of child.groups) {
    if (retry) group.reschedule = retry;
    if (req.meta && Object.keys(req.meta).length > 0) {
      for (const task of group.tasks) for (const [k, v] of Object.entries(req.meta)) task.env = { [`BERTH_META_${k}`]: v, ...task.env };
    }
  }
  return child;
}

function retryPolicy(retries: number | undefined, delayMs: number | undefined): ReschedulePolicy | undefined {
  if (retries === undefined) return undefined;
  const delay = delayMs ?? 0;
  return { attempts: retries, intervalMs: RETRY_WINDOW_MS, delayMs: delay, delayFunction: 'constant', maxDelayMs: Math.max(delay, 1), unlimited: false };
}

/** The run record and writes that launch a child. */
export function launchWrites(_view: StateView, req: LaunchRequest): { run: JobRun; writes: Write[] } {
  const child = childJob(req);
  const run: JobRun = { jobId: req.parent.id, scheduled: req.scheduled, childId: child.id, trigger: req.trigger, launched: req.now, outcome: 'pending', allocIds: [] };
  if (req.idempotencyToken !== undefined) run.idempotencyToken = req.idempotencyToken;
  const trigger = req.trigger === 'dispatch' ? 'job-dispatch' : req.trigger === 'after' ? 'job-after' : 'periodic-job';
  const { write } = newEvalWrite(child, trigger, req.now);
  const writes: Write[] = [
    { table: 'runs', id: runRowId(req.parent.id, req.scheduled), value: run, ifModRevision: 0 },
    // A child is never overwritten: a clash of ids fails the launch rather than replace a run.
    { table: 'jobs', id: child.id, value: child, ifModRevision: 0 },
    { table: 'jobVersions', id: `${child.id}/0`, value: child },
    write,
  ];
  return { run, writes };
}

/** A launch that did not happen: of which job, when, why, and (`heldBy`) the failed parent that held it. */
export interface Skipped {
  jobId: string;
  scheduled: number;
  trigger: JobRun['trigger'];
  reason: string;
  heldBy?: HeldBy;
}

/** A run record for a launch that did not happen. */
export function skippedWrite(skipped: Skipped): Write {
  const { jobId, scheduled, trigger, reason, heldBy } = skipped;
  const run: JobRun = { jobId, scheduled, trigger, outcome: 'skipped', reason, allocIds: [] };
  if (heldBy) run.heldBy = heldBy;
  return { table: 'runs', id: runRowId(jobId, scheduled), value: run, ifModRevision: 0 };
}

/** The run's state read from its child's allocations (the record as it should now be). */
export function observeRun(view: StateView, run: JobRun): JobRun {
  if (run.outcome === 'skipped' || run.childId === undefined || run.markedSuccess !== undefined) return run;
  const child = view.job(run.childId);
  const allocs = view.allocsByJob(run.childId);
  if (allocs.length === 0) return child?.stop ? { ...run, outcome: 'failed', reason: run.reason ?? 'stopped before it ran' } : run;
  const starts = allocs.flatMap((a) => Object.values(a.taskStates ?? {}).map((t) => t.startedAt ?? Infinity));
  const ends = allocs.flatMap((a) => Object.values(a.taskStates ?? {}).map((t) => t.finishedAt ?? 0));
  const start = Math.min(...starts);
  const next: JobRun = { ...run, allocIds: allocs.map((a) => a.id) };
  if (Number.isFinite(start)) next.start = start;
  // A failed allocation with a pending follow-up evaluation is being retried (reschedule policy).
  const retrying = (a: (typeof allocs)[number]): boolean =>
    a.clientStatus === 'failed' &&
    a.markedSuccess === undefined && a.followupEvalId !== undefined && ['pending', 'blocked'].includes(view.eval(a.followupEvalId)?.status ?? '');
  const live = allocs.filter((a) => !isTerminal(a) || retrying(a));
  const wanted = child?.groups.reduce((n, g) => n + g.count, 0) ?? 0;
  // A failed allocation marked successful (`job mark-success`) counts as complete.
  const complete = allocs.filter((a) => a.clientStatus === 'complete' || a.markedSuccess !== undefined).length;
  if (live.length > 0) {
    next.outcome = allocs.some((a) => a.clientStatus === 'running') ? 'running' : 'pending';
    delete next.end;
  } else if (complete >= wanted && wanted > 0) {
    next.outcome = 'complete';
    next.end = Math.max(...ends);
  } else if (allocs.every((a) => a.clientStatus === 'failed' || a.clientStatus === 'lost' || a.desiredStatus === 'stop' || a.clientStatus === 'complete')) {
    next.outcome = 'failed';
    next.end = Math.max(...ends);
  }
  return next;
}

/** Whether a run's child may still run (for `concurrency`). */
export function runLive(view: StateView, run: JobRun): boolean {
  if (run.childId === undefined || run.outcome === 'complete' || run.outcome === 'failed' || run.outcome === 'skipped') return false;
  const child = view.job(run.childId);
  if (!child || child.stop) return view.allocsByJob(run.childId).some((a) => !isTerminal(a));
  return observeRun(view, run).outcome === 'pending' || observeRun(view, run).outcome === 'running';
}
