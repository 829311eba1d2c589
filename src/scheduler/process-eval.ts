import type { EvalStatus, Evaluation, Plan, PlanResult, PlacementFailure } from '../model/index.ts';
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
}

/**
 * Schedules one evaluation of a service or batch job: computes a plan from the snapshot, submits it,
 * and records the outcome on the evaluation. When the applier rejects part of a plan (the room was
 * taken meanwhile), the pass runs again on a fresher state, up to `MAX_ATTEMPTS` passes in all.
 *
 * Groups that could not be fully placed leave the evaluation `complete` with `failures` filled;
 * running out of attempts leaves it `failed`.
 */
export async function processEval(evaluation: Evaluation, ctx: ScheduleContext): Promise<void> {
  const outcome: Outcome = { placed: 0, stopped: 0, rejected: 0, failures: [] };
  let state: State = ctx.state;
  for (let attempt = 1; ; attempt++) {
    const plan = computePlan(evaluation, state, ctx);
    outcome.failures = plan.failures;
    // A plan that changes nothing is not worth a write.
    if (plan.place.length === 0 && plan.stop.length === 0) return finish(evaluation, ctx, 'complete', outcome);
    const result = await ctx.planner.submitPlan(plan);
    outcome.placed += result.placed.length;
    outcome.stopped += result.stopped.length;
    outcome.rejected = result.rejected.length;
    if (result.rejected.length === 0) return finish(evaluation, ctx, 'complete', outcome);
    if (attempt === MAX_ATTEMPTS) return finish(evaluation, ctx, 'failed', outcome);
    state = await nextState(ctx, state, plan, result);
  }
}

async function nextState(ctx: ScheduleContext, state: State, plan: Plan, result: PlanResult): Promise<State> {
  if (ctx.planner.refreshState !== undefined) return ctx.planner.refreshState(result.index);
  return withPlanApplied(state, plan, result);
}

async function finish(evaluation: Evaluation, ctx: ScheduleContext, status: EvalStatus, outcome: Outcome): Promise<void> {
  await ctx.planner.updateEval({
    ...evaluation,
    status,
    statusDescription: describe(status, outcome),
    failures: outcome.failures,
    modifyTime: ctx.now,
  });
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
  return parts.join('; ');
}

/** The reasons nodes were rejected, most frequent first: `memory exhausted on 2 of 3 nodes`. */
function explain(failure: PlacementFailure): string {
  const reasons = Object.entries(failure.filtered).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (failure.nodesEvaluated === 0) return 'no nodes';
  if (reasons.length === 0) return `no node fits (${failure.nodesEvaluated} evaluated)`;
  return reasons.map(([reason, n]) => `${reason} on ${n} of ${failure.nodesEvaluated} nodes`).join(', ');
}
