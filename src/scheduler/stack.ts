import { MAX_NODE_REASONS, type Node, type NodeRejection, type Shortfall } from '../model/index.ts';
import { FEASIBILITY_CHAIN, checkNode, roomFor, type FeasibilityChecker, type PlacementAsk } from './feasible.ts';
import { rankNode, type RankOptions } from './rank.ts';

/** What the stack saw while looking for a node, for placement failures and `job plan`. */
export interface SelectMetrics {
  nodesEvaluated: number;
  /** Nodes rejected, counted by reason. */
  filtered: Record<string, number>;
  /** Of those, the ones rejected for lack of room, by dimension. */
  exhausted: Record<string, number>;
  /** The best scores seen, highest first (at most 3). */
  topScores: { nodeId: string; score: number }[];
  /** Per exhausted dimension, the ask against the most free seen; set once one is exhausted. */
  shortfall?: Record<string, Shortfall>;
  /** Each node rejected and its reason, the first `MAX_NODE_REASONS` (Nomad keeps only counts). */
  nodes: NodeRejection[];
  /** Nodes rejected beyond those in `nodes`. */
  nodesOmitted: number;
}

/** The node chosen for one placement, or none, with what was seen either way. */
export type Selection = ({ ok: true; node: Node; score: number; position: number } | { ok: false }) & { metrics: SelectMetrics };

/** How many feasible nodes to score: every one for system jobs, 2 for batch, log2 N for services. */
export function candidateLimit(jobType: string, nodeCount: number): number {
  if (jobType === 'system') return Infinity;
  if (jobType === 'batch') return 2;
  return Math.max(2, Math.ceil(Math.log2(Math.max(nodeCount, 1))));
}

/** Options of `selectNode`. */
export interface SelectOptions {
  chain?: readonly FeasibilityChecker[];
  /** Feasible nodes to score before choosing; default: all. */
  limit?: number;
  /** Where in `nodes` to start (the caller's cursor, so placements look at different nodes). */
  start?: number;
  /**
   * Bin-packing: keep looking past `limit` until a candidate that already runs something was
   * scored (up to `limit * 16` nodes), so that work lands where work is instead of on whichever
   * empty nodes the shuffle put first. Default false.
   */
  preferUsed?: boolean;
  rank?: RankOptions;
  /** Keep the best three scores in the metrics (for `job plan`); default false. */
  scores?: boolean;
}

const DEFAULT_RANK: RankOptions = { algorithm: 'binpack', allValues: () => new Set() };

const EXHAUSTED: Record<string, string> = {
  'cpu exhausted': 'cpu',
  'memory exhausted': 'memory',
  'disk exhausted': 'disk',
  'dynamic ports exhausted': 'ports',
  'max allocations reached': 'allocations',
};

/**
 * Picks the node for one placement. Nodes come shuffled by the caller (seeded from the eval id);
 * from `start`, each goes through the feasibility chain until `limit` feasible ones were found, and
 * the best-ranked of those wins (the first in shuffled order among equals). Scoring a few random
 * feasible nodes instead of all keeps a placement cheap on a large cluster, as Nomad does.
 */
export function selectNode(nodes: readonly Node[], ask: PlacementAsk, options: SelectOptions | readonly FeasibilityChecker[] = {}): Selection {
  const opts: SelectOptions = Array.isArray(options) ? { chain: options as readonly FeasibilityChecker[] } : (options as SelectOptions);
  const chain = opts.chain ?? FEASIBILITY_CHAIN;
  const limit = opts.limit ?? Infinity;
  const rank = opts.rank ?? DEFAULT_RANK;
  const metrics: SelectMetrics = { nodesEvaluated: 0, filtered: {}, exhausted: {}, topScores: [], nodes: [], nodesOmitted: 0 };
  let best: { node: Node; score: number; position: number } | undefined;
  let feasible = 0;
  let used = 0;
  const n = nodes.length;
  const start = opts.start ?? 0;
  const scan = opts.preferUsed === true && Number.isFinite(limit) ? Math.min(n, limit * 16) : n;
  for (let i = 0; i < n; i++) {
    if (feasible >= limit && (opts.preferUsed !== true || used > 0 || i >= scan)) break;
    const position = (start + i) % n;
    const node = nodes[position];
    metrics.nodesEvaluated++;
    const verdict = checkNode(node, ask, chain);
    if (verdict !== true) {
      metrics.filtered[verdict] = (metrics.filtered[verdict] ?? 0) + 1;
      if (metrics.nodes.length < MAX_NODE_REASONS) metrics.nodes.push({ nodeId: node.id, nodeName: node.name, reason: verdict });
      else metrics.nodesOmitted++;
      const dimension = EXHAUSTED[verdict] ?? (verdict.startsWith('port ') ? 'ports' : undefined);
      if (dimension !== undefined) {
        metrics.exhausted[dimension] = (metrics.exhausted[dimension] ?? 0) + 1;
        if (!verdict.startsWith('port ')) noteShortfall(metrics, node, ask, dimension);
      }
      continue;
    }
    feasible++;
    if (opts.preferUsed === true && ask.usage.used(node.id).count > 0) used++;
    const score = rankNode(node, ask, rank);
    if (opts.scores === true) noteScore(metrics.topScores, node.id, score);
    if (best === undefined || score > best.score) best = { node, score, position };
  }
  return best === undefined ? { ok: false, metrics } : { ok: true, ...best, metrics };
}

/** Keep, per dimension, the node with the most free of it (a static port in use has no amount). */
function noteShortfall(metrics: SelectMetrics, node: Node, ask: PlacementAsk, dimension: string): void {
  const room = roomFor(node, ask, dimension);
  if (room === undefined) return;
  metrics.shortfall ??= {};
  const seen = metrics.shortfall[dimension];
  if (seen === undefined || room.free > seen.mostFree) metrics.shortfall[dimension] = { ask: room.ask, mostFree: Math.max(0, room.free), nodeId: node.id, nodeName: node.name };
}

function noteScore(top: { nodeId: string; score: number }[], nodeId: string, score: number): void {
  if (top.length === 3 && score <= top[2].score) return;
  top.push({ nodeId, score: Math.round(score * 1000) / 1000 });
  top.sort((a, b) => b.score - a.score);
  if (top.length > 3) top.pop();
}
