/** `job dispatch`: launch a parameterized job with meta and a payload, after checking both. */
import { createHash } from 'node:crypto';
import { BerthError, type ErrorDetail, type Job, type JobRun } from '../../model/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';
import { newId, type Clock } from '../../lib/index.ts';
import { launchWrites } from './launch.ts';

/** The most a payload may hold (Nomad's limit). */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

/** What a dispatch asks for. */
export interface DispatchRequest {
  meta?: Record<string, string>;
  /** The payload, base64. */
  payload?: string;
  /**
   * Nomad's idempotency token: while a child dispatched with this token exists, a dispatch with
   * the same token returns that child's run and creates nothing.
   */
  idempotencyToken?: string;
}

/**
 * The child id of a dispatch with a token: derived from it, so two dispatches with one token
 * race for one row (the child's `ifModRevision: 0`) and the loser finds the winner's child.
 */
export function tokenChildId(jobId: string, token: string): string {
  return `${jobId}/dispatch-${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

/** The run of the existing child dispatched with `token`, if that child still exists. */
function dispatchedWith(view: StateView, jobId: string, token: string): JobRun | undefined {
  const childId = tokenChildId(jobId, token);
  if (!view.job(childId)) return undefined;
  // The newest: a child purged and dispatched again with the token has an older run too.
  const run = view.runsByJob(jobId).findLast((r) => r.childId === childId);
  if (run && run.idempotencyToken !== token) {
    throw new BerthError('conflict', `Cannot dispatch job "${jobId}": child ${childId} was dispatched with another idempotency token whose hash is the same; use another token`);
  }
  return run;
}

/** Every problem of a dispatch request against the job's `parameterized` block. */
export function checkDispatch(job: Job, req: DispatchRequest): ErrorDetail[] {
  const p = job.parameterized!;
  const problems: ErrorDetail[] = [];
  const meta = req.meta ?? {};
  for (const k of p.metaRequired) if (meta[k] === undefined) problems.push({ path: `meta.${k}`, message: 'required by the job (meta_required)' });
  for (const k of Object.keys(meta)) {
    if (!p.metaRequired.includes(k) && !p.metaOptional.includes(k)) {
      const allowed = [...p.metaRequired, ...p.metaOptional];
      problems.push({ path: `meta.${k}`, message: `not allowed; the job takes ${allowed.length ? allowed.join(', ') : 'no meta'}` });
    }
  }
  const payload = req.payload;
  if (payload !== undefined && p.payload === 'forbidden') problems.push({ path: 'payload', message: 'the job takes no payload (payload: forbidden)' });
  if (payload === undefined && p.payload === 'required') problems.push({ path: 'payload', message: 'required by the job (payload: required)' });
  if (payload !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) problems.push({ path: 'payload', message: 'must be base64' });
    else if (Buffer.from(payload, 'base64').length > MAX_PAYLOAD_BYTES) {
      problems.push({ path: 'payload', message: `is ${Buffer.from(payload, 'base64').length} bytes, over the limit of 16 KiB` });
    }
  }
  return problems;
}

/** Check and launch one dispatch; nothing is written when the input is wrong. */
export async function dispatchJob(deps: { view: StateView; store: StateStore; clock: Clock }, jobId: string, req: DispatchRequest): Promise<JobRun> {
  const { view, store } = deps;
  const now = deps.clock.now();
  const job = view.job(jobId);
  if (!job) throw new BerthError('not_found', `Cannot dispatch job "${jobId}": no such job (see \`berth job status\`)`);
  if (!job.parameterized) throw new BerthError('invalid_input', `Cannot dispatch job "${jobId}": it is not parameterized (add a parameterized block)`);
  if (job.stop) throw new BerthError('invalid_input', `Cannot dispatch job "${jobId}": it is stopped; run it again first`);
  const problems = checkDispatch(job, req);
  if (problems.length > 0) {
    throw new BerthError('invalid_input', `Cannot dispatch job "${jobId}": ${problems[0].path} ${problems[0].message}`, problems);
  }
  const token = req.idempotencyToken;
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = token === undefined ? undefined : dispatchedWith(view, jobId, token);
    if (existing) return existing;
    const at = now + attempt;
    const childId = token === undefined ? `${jobId}/dispatch-${Math.floor(at / 1000)}-${newId().slice(0, 8)}` : tokenChildId(jobId, token);
    const { run, writes } = launchWrites(view, { parent: job, scheduled: at, trigger: 'dispatch', now, childId, meta: req.meta, payload: req.payload, idempotencyToken: token });
    const result = await store.commit(writes);
    if (result.ok) return run;
  }
  throw new BerthError('conflict', `Cannot dispatch job "${jobId}": it kept changing concurrently; try again`);
}
