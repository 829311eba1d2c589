import type { Node } from '../model/index.ts';
import type { Demand } from './feasible.ts';
import { toMilli, type NodeUsed } from './usage.ts';

/** The best raw score: a node left with nothing free scores 20 - (10^0 + 10^0). */
const MAX_RAW = 18;

/**
 * How well a placement packs a node, from 0 (the node stays empty) to 1 (it ends up full). Nomad's
 * bin-packing formula: `20 - (10^freeCpu + 10^freeMemory)`, free fractions taken after the
 * placement. The exponent makes a nearly full node score much higher than a half-full one, so work
 * concentrates and whole nodes stay free for large groups.
 */
export function binPackScore(node: Node, used: NodeUsed, demand: Demand): number {
  const freeCpu = freeFraction(toMilli(node.resources.cpu), used.cpuMilli + demand.cpuMilli);
  const freeMemory = freeFraction(node.resources.memoryMiB, used.memoryMiB + demand.memoryMiB);
  const raw = 20 - (10 ** freeCpu + 10 ** freeMemory);
  return Math.min(Math.max(raw / MAX_RAW, 0), 1);
}

function freeFraction(total: number, taken: number): number {
  if (total <= 0) return 0;
  return Math.min(Math.max(1 - taken / total, 0), 1);
}
