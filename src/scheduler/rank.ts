import type { Affinity, Node, Spread } from '../model/index.ts';
import { nodeMatches, resolveAttribute } from './constraints.ts';
import type { Demand, PlacementAsk } from './feasible.ts';
import { toMilli, type NodeUsed } from './plan-usage.ts';

/** The best raw score: a node left with nothing free scores 20 - (10^0 + 10^0). */
const MAX_RAW = 18;

/** How the cluster ranks nodes: pack work tight (default) or spread it thin. */
export type SchedulerAlgorithm = 'binpack' | 'spread';

/**
 * How well a placement packs a node, from 0 (the node stays empty) to 1 (it ends up full). Nomad's
 * bin-packing formula: `20 - (10^freeCpu + 10^freeMemory)`, free fractions taken after the
 * placement. The exponent makes a nearly full node score much higher than a half-full one, so work
 * concentrates and whole nodes stay free for large groups.
 */
export function binPackScore(node: Node, used: Pick<NodeUsed, 'cpuMilli' | 'memoryMiB'>, demand: Pick<Demand, 'cpuMilli' | 'memoryMiB'>): number {
  const freeCpu = freeFraction(toMilli(node.resources.cpu), used.cpuMilli + demand.cpuMilli);
  const freeMemory = freeFraction(node.resources.memoryMiB, used.memoryMiB + demand.memoryMiB);
  const raw = 20 - (10 ** freeCpu + 10 ** freeMemory);
  return Math.min(Math.max(raw / MAX_RAW, 0), 1);
}

/**
 * Bin-packing's fit for a node that runs nothing yet: opening a node is the costly step, and
 * opening a big one leaves room for more before the next, so a bigger empty node scores a little
 * higher (never above a node in use that the placement fills noticeably). Nomad's formula would
 * do the opposite (a small empty node ends up fuller), which spreads work over more nodes on a
 * mixed fleet.
 */
export function emptyNodeFit(node: Node): number {
  return 0.05 * Math.min(1, node.resources.cpu / 64);
}

/** The spread algorithm's fit: the emptiest node after the placement scores highest. */
export function spreadFitScore(node: Node, used: Pick<NodeUsed, 'cpuMilli' | 'memoryMiB'>, demand: Pick<Demand, 'cpuMilli' | 'memoryMiB'>): number {
  return 1 - binPackScore(node, used, demand);
}

function freeFraction(total: number, taken: number): number {
  if (total <= 0) return 0;
  return Math.min(Math.max(1 - taken / total, 0), 1);
}

/**
 * Anti-affinity between allocations of one group: `-(collisions + 1) / count` on a node that holds
 * some already, so that a group spreads over nodes unless packing matters much more.
 */
export function antiAffinityScore(collisions: number, count: number): number | undefined {
  if (collisions === 0) return undefined;
  return -Math.min((collisions + 1) / Math.max(count, 1), 1);
}

/** Weighted affinities: the matching weights over the sum of all weights, in [-1, 1]. */
export function affinityScore(node: Node, affinities: readonly Affinity[]): number | undefined {
  if (affinities.length === 0) return undefined;
  let total = 0;
  let matched = 0;
  for (const a of affinities) {
    total += Math.abs(a.weight);
    if (nodeMatches(node, a)) matched += a.weight;
  }
  return total === 0 ? undefined : matched / total;
}

/**
 * Spread blocks: a node whose attribute value has fewer allocations than its target share scores
 * up to 1, one over its share down to -1. Without targets the share is even over the values seen.
 */
export function spreadScore(node: Node, ask: PlacementAsk, spread: { spreads: readonly Spread[]; allValues: (attribute: string) => ReadonlySet<string> }): number | undefined {
  const { spreads, allValues } = spread;
  if (spreads.length === 0) return undefined;
  let sum = 0;
  let weights = 0;
  for (const spread of spreads) {
    const value = resolveAttribute(node, spread.attribute);
    const counts = ask.presence?.byValue(spread.attribute, ask.group.name) ?? new Map<string, number>();
    const score = value === undefined ? -1 : spread.targets.length > 0 ? targetScore(spread, value, counts, ask.group.count) : evenScore(value, counts, allValues(spread.attribute));
    sum += score * spread.weight;
    weights += spread.weight;
  }
  return weights === 0 ? undefined : sum / weights;
}

function targetScore(spread: Spread, value: string, counts: ReadonlyMap<string, number>, count: number): number {
  const named = spread.targets.find((t) => t.value === value);
  let percent = named?.percent;
  if (percent === undefined) {
    // Values not named share what the named ones leave, as Nomad's implicit "*" target does.
    const left = 100 - spread.targets.reduce((s, t) => s + t.percent, 0);
    percent = left > 0 ? left : 0;
  }
  const desired = (percent / 100) * count;
  if (desired <= 0) return -1;
  const have = counts.get(value) ?? 0;
  return Math.max(-1, Math.min(1, (desired - have) / desired));
}

function evenScore(value: string, counts: ReadonlyMap<string, number>, values: ReadonlySet<string>): number {
  let min = Infinity;
  let max = 0;
  for (const v of values) {
    const c = counts.get(v) ?? 0;
    min = Math.min(min, c);
    max = Math.max(max, c);
  }
  if (!Number.isFinite(min) || min === max) return 0;
  const have = counts.get(value) ?? 0;
  return have === min ? 1 : -(have - min) / (max - min);
}

/** What the ranker needs besides the ask. */
export interface RankOptions {
  algorithm: SchedulerAlgorithm;
  /** The distinct values of an attribute across the cluster, for even spreads. */
  allValues: (attribute: string) => ReadonlySet<string>;
}

/**
 * The final score of a feasible node: the mean of the scores that apply (fit always; anti-affinity,
 * reschedule penalty, affinities and spread when they have something to say), as Nomad normalizes.
 */
export function rankNode(node: Node, ask: PlacementAsk, options: RankOptions): number {
  const used = ask.usage.used(node.id);
  let sum =
    options.algorithm === 'spread' ? spreadFitScore(node, used, ask.demand) : used.count === 0 ? emptyNodeFit(node) : binPackScore(node, used, ask.demand);
  let n = 1;
  if (ask.job.type !== 'system') {
    const anti = antiAffinityScore(ask.presence?.onNode(node.id, ask.group.name) ?? 0, ask.group.count);
    if (anti !== undefined) {
      sum += anti;
      n++;
    }
  }
  if (ask.penaltyNodes?.has(node.id) === true) {
    sum -= 1;
    n++;
  }
  const { job, group } = ask;
  if ((job.affinities?.length ?? 0) + (group.affinities?.length ?? 0) > 0) {
    const affinity = affinityScore(node, [...(job.affinities ?? []), ...(group.affinities ?? [])]);
    if (affinity !== undefined) {
      sum += affinity;
      n++;
    }
  }
  if ((job.spreads?.length ?? 0) + (group.spreads?.length ?? 0) > 0) {
    const spread = spreadScore(node, ask, { spreads: [...(job.spreads ?? []), ...(group.spreads ?? [])], allValues: options.allValues });
    if (spread !== undefined) {
      sum += spread;
      n++;
    }
  }
  return sum / n;
}
