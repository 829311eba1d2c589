import type { DependencyWait, EvalStatus, Evaluation, Plan, PlanResult, PlacementFailure } from '../model/index.ts';
import { computePlan } from './compute-plan.ts';
import type { ScheduleContext, State } from './interfaces.ts';
import { withPlanApplied } from './plan-overlay.ts';

/** Passes per evaluation: the first, and two retries after a plan the applier partly rejected. */
export const MAX_ATTEMPTS = 3;

/** What the passes of one evaluation got done, for its status description. */
interface Outcome {
  placed: number;
  stopped: number;
  rejected: number;
  failures: PlacementFailure[];
  /** The dependencies that held the job's placements. */
  held?: DependencyWait[];
}

/**
 * Schedules one evaluation: computes a plan from the snapshot, submits it, and records the outcome
 * on the evaluation. When the applier rejects part of a plan (the room was taken meanwhile), the
 * pass runs again on a fresher state, up to `MAX_ATTEMPTS` passes in all; past that a follow-up
 * evaluation takes over. What fits nowhere leaves the evaluation `complete` with `failures` filled
 * and a `blocked` evaluation that the server wakes when capacity appears.
 */
export async function processEval(evaluation: Evaluation, ctx: ScheduleContext): Promise<void> {
  const outcome: Outcome = { placed: 0, stopped: 0, rejected: 0, failures: [] };
  let state: State = ctx.state;
  for (let attempt = 1; ; attempt++) {
    const plan = computePlan(evaluation, state, ctx);
    outcome.failures = plan.failures;
    outcome.held = plan.held;
    // A plan that changes nothing is not worth a write.
    if (isEmpty(plan)) return finish(evaluation, ctx, 'complete', outcome);
    const { diff: _diff, scores: _scores, held: _held, ...submitted } = plan;
    const result = await ctx.planner.submitPlan(submitted);
    outcome.placed += result.placed.length;
    outcome.stopped += result.stopped.length;
    outcome.rejected = result.rejected.length;
    if (result.rejected.length === 0) return finish(evaluation, ctx, 'complete', outcome);
    if (attempt === MAX_ATTEMPTS) {
      await createEval(ctx, evaluation, 'pending', 'max-plan-attempts', `follow-up: ${result.rejected.length} placements did not fit when applied`);
      return finish(evaluation, ctx, 'failed', outcome);
    }
    state = await nextState(ctx, state, plan, result);
  }
}

function isEmpty(plan: Plan): boolean {
  return plan.place.length === 0 && plan.stop.length === 0 && (plan.update?.length ?? 0) === 0 && (plan.followups?.length ?? 0) === 0;
}

async function nextState(ctx: ScheduleContext, state: State, plan: Plan, result: PlanResult): Promise<State> {
  if (ctx.planner.refreshState !== undefined) return ctx.planner.refreshState(result.index);
  return withPlanApplied(state, plan, result);
}

/** A new evaluation of the same job, made by this one. */
async function createEval(ctx: ScheduleContext, from: Evaluation, status: EvalStatus, trigger: Evaluation['triggeredBy'], description: string, extra: Partial<Evaluation> = {}): Promise<string | undefined> {
  if (ctx.planner.createEval === undefined) return undefined;
  const evaluation: Evaluation = {
    id: ctx.newId(),
    jobId: from.jobId,
    priority: from.priority,
    triggeredBy: trigger,
    status,
    statusDescription: description,
    failures: [],
    createTime: ctx.now,
    modifyTime: ctx.now,
    previousEval: from.id,
    ...extra,
  };
  await ctx.planner.createEval(evaluation);
  return evaluation.id;
}

async function finish(evaluation: Evaluation, ctx: ScheduleContext, status: EvalStatus, outcome: Outcome): Promise<void> {
  const done: Evaluation = { ...evaluation, status, statusDescription: describe(status, outcome), failures: outcome.failures, modifyTime: ctx.now };
  if (outcome.held !== undefined) done.held = outcome.held;
  else delete done.held;
  if (status === 'complete' && outcome.failures.length > 0) {
    const queuedAllocs = Object.fromEntries(outcome.failures.map((f) => [f.group, f.missing]));
    done.queuedAllocs = queuedAllocs;
    const blocked = await createEval(ctx, evaluation, 'blocked', 'queued-allocs', 'waiting for capacity', { queuedAllocs, failures: outcome.failures });
    if (blocked !== undefined) done.blockedEval = blocked;
  }
  await ctx.planner.updateEval(done);
}

/** One line for `eval status`: what was done, then what could not be, and why. */
export function describe(status: EvalStatus, outcome: Outcome): string {
  const done: string[] = [];
  if (outcome.placed > 0) done.push(`placed ${outcome.placed}`);
  if (outcome.stopped > 0) done.push(`stopped ${outcome.stopped}`);
  const parts = [done.length > 0 ? done.join(', ') : 'no changes'];
  if (status === 'failed') {
    parts.push(`gave up after ${MAX_ATTEMPTS} plans: ${outcome.rejected} allocations still did not fit when applied`);
  }
  for (const f of outcome.failures) parts.push(`cannot place ${f.missing} of group "${f.group}": ${explain(f)}`);
  for (const w of outcome.held ?? []) parts.push(`held: waiting for job "${w.job}" to be ${w.condition}: ${w.reason}`);
  return parts.join('; ');
}

/** The reasons nodes were rejected, most frequent first: `memory exhausted on 2 of 3 nodes`. */
export function explain(failure: PlacementFailure): string {
  const reasons = Object.entries(failure.filtered).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (failure.nodesEvaluated === 0) return 'no nodes';
  if (reasons.length === 0) return `no node fits (${failure.nodesEvaluated} evaluated)`;
  return reasons.map(([reason, n]) => `${reason} on ${n} of ${failure.nodesEvaluated} nodes`).join(', ');
}
