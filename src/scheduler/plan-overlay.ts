import type { Allocation, Plan, PlanResult } from '../model/index.ts';
import type { State } from './interfaces.ts';

/**
 * A snapshot as it would read after a plan was (partly) committed: what was placed is there,
 * what was stopped is stopping. The retry pass uses it when the planner cannot hand out a fresh
 * snapshot, so that it does not place again what the first pass placed already.
 */
export function withPlanApplied(state: State, plan: Plan, result: PlanResult): State {
  const placed = new Set(result.placed);
  const stopped = new Map(plan.stop.filter((s) => result.stopped.includes(s.allocId)).map((s) => [s.allocId, s.description]));
  const added = plan.place.filter((a) => placed.has(a.id));
  const updated = new Map((plan.update ?? []).map((a) => [a.id, a]));
  const view = (allocs: Allocation[]): Allocation[] =>
    allocs.map((a) => {
      const description = stopped.get(a.id);
      if (description !== undefined) return { ...a, desiredStatus: 'stop', desiredDescription: description };
      return updated.get(a.id) ?? a;
    });
  return {
    job: (id) => state.job(id),
    nodes: () => state.nodes(),
    node: (id) => state.node(id),
    allocsByJob: (jobId) => view([...state.allocsByJob(jobId), ...added.filter((a) => a.jobId === jobId)]),
    allocsByNode: (nodeId) => view([...state.allocsByNode(nodeId), ...added.filter((a) => a.nodeId === nodeId)]),
    latestDeployment: state.latestDeployment ? (jobId) => state.latestDeployment!(jobId) : undefined,
  };
}
