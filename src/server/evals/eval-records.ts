import type { Evaluation, EvalTrigger } from '../../model/index.ts';
import type { Write } from '../../state/index.ts';
import { newId } from '../../lib/index.ts';

/** A pending evaluation of a job, as a write to commit with whatever triggered it. */
export function newEvalWrite(job: { id: string; priority: number }, triggeredBy: EvalTrigger, now: number): { evaluation: Evaluation; write: Write } {
  const evaluation: Evaluation = { id: newId(), jobId: job.id, priority: job.priority, triggeredBy, status: 'pending', failures: [], createTime: now, modifyTime: now };
  return { evaluation, write: { table: 'evals', id: evaluation.id, value: evaluation, ifModRevision: 0 } };
}

/**
 * The newest evaluation of a list that was or will be run, or undefined. Blocked and canceled
 * ones are left out: the evaluation that blocked says why, with its failures.
 */
export function latestEval(evals: Evaluation[]): Evaluation | undefined {
  return evals
    .filter((e) => e.status !== 'blocked' && e.status !== 'canceled')
    .reduce<Evaluation | undefined>((a, e) => (!a || e.createTime > a.createTime || (e.createTime === a.createTime && e.modifyTime >= a.modifyTime) ? e : a), undefined);
}
