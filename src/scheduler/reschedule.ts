import type { Allocation, RescheduleEvent, ReschedulePolicy } from '../model/index.ts';

/** Used when a group has no reschedule block: the service default (Nomad's). */
export const DEFAULT_RESCHEDULE: ReschedulePolicy = {
  attempts: 0,
  intervalMs: 0,
  delayMs: 30_000,
  delayFunction: 'exponential',
  maxDelayMs: 3_600_000,
  unlimited: true,
};

/** Batch default (Nomad's): one more try a day; system jobs are never moved (they belong to a node). */
const BY_TYPE: Record<string, ReschedulePolicy> = {
  service: DEFAULT_RESCHEDULE,
  batch: { attempts: 1, intervalMs: 24 * 3_600_000, delayMs: 5_000, delayFunction: 'constant', maxDelayMs: 0, unlimited: false },
  system: { attempts: 0, intervalMs: 0, delayMs: 0, delayFunction: 'constant', maxDelayMs: 0, unlimited: false },
};

/** The policy a group follows: its own block, or its job type's default. */
export function reschedulePolicy(jobType: string, group: { reschedule?: ReschedulePolicy } | undefined): ReschedulePolicy {
  return group?.reschedule ?? BY_TYPE[jobType] ?? DEFAULT_RESCHEDULE;
}

/** What the policy says of a failed allocation. */
export type RescheduleVerdict = { reschedule: false } | { reschedule: true; at: number; delayMs: number };

/**
 * The delay before the `n`-th reschedule (0-based) of a slot: constant, doubling (exponential) or
 * growing as Fibonacci numbers, capped at `maxDelayMs` (0: no cap).
 */
export function rescheduleDelay(policy: ReschedulePolicy, n: number): number {
  let delay = policy.delayMs;
  if (policy.delayFunction === 'exponential') delay = policy.delayMs * 2 ** n;
  else if (policy.delayFunction === 'fibonacci') {
    let [a, b] = [policy.delayMs, policy.delayMs];
    for (let i = 0; i < n; i++) [a, b] = [b, a + b];
    delay = a;
  }
  return policy.maxDelayMs > 0 ? Math.min(delay, policy.maxDelayMs) : delay;
}

/**
 * Whether and when a failed allocation may be placed again. Limited policies allow `attempts`
 * reschedules within the last `intervalMs`; unlimited ones always allow, their delay growing with
 * the reschedules so far. The delay counts from the failure (the allocation's last change).
 */
export function rescheduleVerdict(alloc: Allocation, policy: ReschedulePolicy, now: number): RescheduleVerdict {
  const events = alloc.rescheduleEvents ?? [];
  if (!policy.unlimited) {
    if (policy.attempts <= 0) return { reschedule: false };
    const recent = events.filter((e) => e.time > now - policy.intervalMs).length;
    if (recent >= policy.attempts) return { reschedule: false };
  }
  const delayMs = rescheduleDelay(policy, events.length);
  return { reschedule: true, at: alloc.modifyTime + delayMs, delayMs };
}

/** The chain of reschedules a replacement carries: its predecessor's plus this one. */
export function nextRescheduleEvents(prev: Allocation, policy: ReschedulePolicy, at: { now: number; delayMs: number }): RescheduleEvent[] {
  const { now, delayMs } = at;
  const kept = (prev.rescheduleEvents ?? []).filter((e) => policy.unlimited || e.time > now - policy.intervalMs);
  // Unlimited chains keep a bounded history: enough for the delay to stay at its cap.
  const tail = kept.slice(-20);
  return [...tail, { time: now, prevAllocId: prev.id, prevNodeId: prev.nodeId, delayMs }];
}
