import { isTerminal, type Allocation } from './alloc.ts';
import type { Node } from './node.ts';

/** Whether a set of allocations fits on a node, and if not, the first dimension that does not. */
export type FitResult = { fits: true; used: { cpu: number; memoryMiB: number } } | { fits: false; reason: string };

/**
 * Check that the non-terminal allocations in `allocs` fit on `node`: cpu and memory within the
 * node's resources and no host port given twice. Both the scheduler and the plan applier use it,
 * so that what the applier accepts is exactly what the scheduler would have placed.
 */
export function allocsFit(node: Pick<Node, 'resources'>, allocs: Iterable<Allocation>): FitResult {
  let cpu = 0;
  let memoryMiB = 0;
  const ports = new Set<number>();
  for (const alloc of allocs) {
    if (isTerminal(alloc)) continue;
    cpu += alloc.resources.cpu;
    memoryMiB += alloc.resources.memoryMiB;
    for (const p of alloc.ports) {
      if (ports.has(p.value)) return { fits: false, reason: `port ${p.value} in use` };
      ports.add(p.value);
    }
  }
  // A small epsilon: cpu is fractional (0.1 + 0.2 must fit in 0.3).
  if (cpu > node.resources.cpu + 1e-9) return { fits: false, reason: 'cpu exhausted' };
  if (memoryMiB > node.resources.memoryMiB) return { fits: false, reason: 'memory exhausted' };
  return { fits: true, used: { cpu, memoryMiB } };
}
