import type { Node } from '../model/index.ts';
import { FEASIBILITY_CHAIN, checkNode, type FeasibilityChecker, type PlacementAsk } from './feasible.ts';
import { binPackScore } from './rank.ts';

/** What the stack saw while looking for a node, for placement failures. */
export interface SelectMetrics {
  nodesEvaluated: number;
  /** Nodes rejected, counted by reason. */
  filtered: Record<string, number>;
}

/** The node chosen for one placement, or none, with what was seen either way. */
export type Selection = ({ ok: true; node: Node; score: number } | { ok: false }) & { metrics: SelectMetrics };

/**
 * Picks the node for one placement: every node goes through the feasibility chain, the feasible
 * ones are ranked by bin-packing, and the best wins. `nodes` come shuffled by the caller (seeded
 * from the eval id), so among equal scores the first one in that order wins: ties spread without
 * making the run unreplayable.
 */
export function selectNode(
  nodes: readonly Node[],
  ask: PlacementAsk,
  chain: readonly FeasibilityChecker[] = FEASIBILITY_CHAIN,
): Selection {
  const metrics: SelectMetrics = { nodesEvaluated: 0, filtered: {} };
  let best: { node: Node; score: number } | undefined;
  for (const node of nodes) {
    metrics.nodesEvaluated++;
    const verdict = checkNode(node, ask, chain);
    if (verdict !== true) {
      metrics.filtered[verdict] = (metrics.filtered[verdict] ?? 0) + 1;
      continue;
    }
    const score = binPackScore(node, ask.usage.used(node.id), ask.demand);
    if (best === undefined || score > best.score) best = { node, score };
  }
  return best === undefined ? { ok: false, metrics } : { ok: true, ...best, metrics };
}
