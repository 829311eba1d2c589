/**
 * Chronos' "mark success": an operator declares a failed run of a batch job successful, so the
 * jobs that wait for it go on. A run of a periodic, dispatched or chained job is its run record;
 * a plain batch job's run is its failed allocations. Who and when are kept on what was marked,
 * and the event stream shows it as a `JobMarkedSuccess` event.
 */
import { BerthError, type Allocation, type Job, type JobRun, type MarkedSuccess } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import { runRowId } from '../../state/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { MarkSuccessResponse } from '../../api/index.ts';
import { isTemplate, lastResult, observeRun } from '../periodic/index.ts';

/** What to mark. */
export interface MarkSuccessRequest {
  jobId: string;
  /** A run of a template job: its child job id or its scheduled time (ms); default the newest failed run. */
  run?: string;
  /** Who asks: a token's name or accessor, `anonymous` without ACLs. */
  by: string;
}

/** Mark a failed run successful, in one txn compared against what was read. */
export async function markSuccess(deps: { view: StateView; store: StateStore; clock: Clock }, request: MarkSuccessRequest): Promise<MarkSuccessResponse> {
  const { view, store, clock } = deps;
  const job = view.job(request.jobId);
  const fail = (why: string): BerthError => new BerthError('invalid_input', `Cannot mark a run of job "${request.jobId}" successful: ${why}`);
  if (!job) throw new BerthError('not_found', `Cannot mark a run of job "${request.jobId}" successful: no such job (see \`berth job status\`)`);
  if (job.type !== 'batch') throw fail(`it is a ${job.type} job; only batch runs can succeed or fail`);
  const marked: MarkedSuccess = { by: request.by, at: clock.now() };
  const { writes, run, allocIds } = isTemplate(job) ? markRun(view, job, request.run, marked) : markAllocs(view, job, request.run, marked);
  const result = await store.commit(writes);
  if (!result.ok) throw new BerthError('conflict', `Cannot mark a run of job "${request.jobId}" successful: it changed meanwhile; try again`);
  return { jobId: job.id, run, allocIds, marked, index: result.index };
}

function markRun(view: StateView, job: Job, ref: string | undefined, marked: MarkedSuccess): { writes: Write[]; run: string; allocIds: string[] } {
  const runs = view.runsByJob(job.id).map((r) => observeRun(view, r));
  const found = ref === undefined ? runs.filter((r) => r.outcome === 'failed').at(-1) : runs.find((r) => r.childId === ref || String(r.scheduled) === ref);
  const what = `Cannot mark a run of job "${job.id}" successful`;
  if (!found) {
    if (ref === undefined) throw new BerthError('invalid_input', `${what}: it has no failed run (see \`berth job runs ${job.id}\`)`);
    throw new BerthError('not_found', `${what}: no run "${ref}" (give its child job id or scheduled time, see \`berth job runs ${job.id}\`)`);
  }
  if (found.outcome !== 'failed') throw new BerthError('invalid_input', `${what}: run ${found.childId ?? found.scheduled} is ${found.outcome}, not failed`);
  const id = runRowId(job.id, found.scheduled);
  const next: JobRun = { ...found, outcome: 'complete', markedSuccess: marked, reason: `marked successful by ${marked.by}` };
  return { writes: [{ table: 'runs', id, value: next, ifModRevision: view.modRevision('runs', id) }], run: found.childId ?? job.id, allocIds: [] };
}

function markAllocs(view: StateView, job: Job, ref: string | undefined, marked: MarkedSuccess): { writes: Write[]; run: string; allocIds: string[] } {
  const what = `Cannot mark a run of job "${job.id}" successful`;
  if (ref !== undefined && ref !== job.id) throw new BerthError('invalid_input', `${what}: it has no runs but itself; leave out the run`);
  if (lastResult(view, job.id)?.outcome !== 'failed') throw new BerthError('invalid_input', `${what}: it has not failed (see \`berth job status ${job.id}\`)`);
  const failed = view.allocsByJob(job.id).filter((a) => a.clientStatus === 'failed' && a.markedSuccess === undefined);
  const writes: Write[] = failed.map((a) => ({ table: 'allocs', id: a.id, value: withMark(a, marked), ifModRevision: view.modRevision('allocs', a.id) }));
  return { writes, run: job.id, allocIds: failed.map((a) => a.id) };
}

/** The allocation marked, with the mark also in its first task's events (`alloc status`). */
function withMark(alloc: Allocation, marked: MarkedSuccess): Allocation {
  const taskStates = { ...alloc.taskStates };
  const first = Object.keys(taskStates)[0];
  if (first !== undefined) {
    const event = { time: marked.at, type: 'Marked successful', message: `failed run marked successful by ${marked.by}` };
    taskStates[first] = { ...taskStates[first], events: [...taskStates[first].events, event] };
  }
  return { ...alloc, markedSuccess: marked, taskStates, modifyTime: marked.at };
}
