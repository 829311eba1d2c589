import type { Allocation, Group, Job, Node } from '../model/index.ts';
import { reschedulePolicy, rescheduleVerdict } from './reschedule.ts';
import { specHash } from './spec-hash.ts';

/** What one allocation looks like from where the job stands now. */
export interface Subject {
  alloc: Allocation;
  job: Job | undefined;
  group: Group | undefined;
  exited: boolean;
  node: Node | undefined;
  now: number;
  replaced: boolean;
}

/**
 * Where an allocation goes. `keep` fills its slot; `hold` fills its slot and wants a follow-up;
 * `inplace` fills its slot with the new version; `ignore` and `stop` leave the slot; `lost`,
 * `migrate`, `destructive` and `reschedule` leave the slot to a replacement that records them;
 * `unknown` (disconnected) waits and leaves the slot to a replacement only when the group says so.
 */
export type Verdict = 'keep' | 'hold' | 'inplace' | 'ignore' | 'stop' | 'lost' | 'migrate' | 'destructive' | 'reschedule' | 'unknown' | 'expire';

/** One row of the rule table. */
export interface Rule {
  verdict: Verdict;
  when: (s: Subject) => boolean;
  /** For stops: the description the allocation is stopped with. */
  reason?: (s: Subject) => string;
}


/** Whether a live allocation of an older version can take the current one without a restart. */
export function canUpdateInPlace(alloc: Allocation, group: Group): boolean {
  return alloc.specHash !== undefined && alloc.specHash === specHash(group);
}

/** The description of an allocation stopped for running past `max_run_duration`. */
const EXPIRED = 'exceeded max_run_duration';

const live = (s: Subject): boolean => !s.exited;
const older = (s: Subject): boolean => s.alloc.jobVersion !== s.job?.version;
const down = (s: Subject): boolean => s.node?.status === 'down';
const draining = (s: Subject): boolean => s.node?.drain !== undefined;

/** Within a `disconnect.lost_after` window: the node may still come back. */
function disconnected(s: Subject): boolean {
  const lostAfter = s.group?.disconnect?.lostAfterMs;
  if (lostAfter === undefined || !down(s)) return false;
  return s.now < (s.node?.downSince ?? s.now) + lostAfter;
}

function rescheduleAt(s: Subject): number | undefined {
  const v = rescheduleVerdict(s.alloc, reschedulePolicy(s.job?.type ?? 'service', s.group), s.now);
  return v.reschedule ? v.at : undefined;
}

function maxRunEnd(s: Subject): number | undefined {
  const max = s.job?.maxRunDurationMs;
  return s.job?.type === 'batch' && max !== undefined && max > 0 ? s.alloc.createTime + max : undefined;
}

/**
 * How each allocation of the job is classified, first match wins. `keep` means "may fill its slot";
 * slots, scale-down and duplicates are settled afterwards, per group.
 */
export const RULES: readonly Rule[] = [
  // A batch allocation stopped for running too long is done: it keeps its slot so it is not rerun.
  { verdict: 'keep', when: (s) => s.alloc.desiredStatus === 'stop' && s.job?.type === 'batch' && s.alloc.desiredDescription === EXPIRED },
  // Already told to stop: the agent is finishing it, and it never fills a slot again.
  { verdict: 'ignore', when: (s) => s.alloc.desiredStatus === 'stop' },
  // Nothing may keep running for a job that is gone.
  { verdict: 'stop', when: (s) => s.job === undefined && live(s), reason: () => 'job deregistered' },
  // `job stop` stops every allocation, whatever its version.
  { verdict: 'stop', when: (s) => s.job?.stop === true && live(s), reason: () => 'job stopped' },
  // What is left of a gone or stopped job has exited already: nothing to do.
  { verdict: 'ignore', when: (s) => s.job === undefined || s.job.stop },
  // The group was removed from the job.
  { verdict: 'stop', when: (s) => s.group === undefined && live(s), reason: () => 'group removed from job' },
  { verdict: 'ignore', when: (s) => s.group === undefined },
  // Its node stopped answering, but the group's `disconnect.lost_after` has not run out.
  { verdict: 'unknown', when: (s) => live(s) && disconnected(s) },
  // Its node is down: the allocation is lost and its slot gets a replacement elsewhere.
  { verdict: 'lost', when: (s) => live(s) && down(s), reason: () => 'node down' },
  // The drainer picked it (a few at a time, as `max_parallel` allows) to move off its node.
  { verdict: 'migrate', when: (s) => live(s) && s.alloc.migrate === true, reason: (s) => (draining(s) ? 'node draining' : 'migrating') },
  // A new version whose tasks are unchanged (count, meta, priority): no restart needed.
  { verdict: 'inplace', when: (s) => live(s) && older(s) && s.group !== undefined && canUpdateInPlace(s.alloc, s.group) },
  // Destructive update: an older version makes way for the current one.
  { verdict: 'destructive', when: (s) => live(s) && older(s), reason: (s) => `replaced by job version ${s.job?.version}` },
  // An older version that exited already: its slot gets a new allocation, it needs no stop.
  { verdict: 'ignore', when: (s) => older(s) },
  // A failed allocation that a later one replaced already.
  { verdict: 'ignore', when: (s) => s.alloc.clientStatus === 'failed' && s.replaced },
  // Failed, then marked successful by an operator (`job mark-success`): done, never retried.
  { verdict: 'keep', when: (s) => s.alloc.clientStatus === 'failed' && s.alloc.markedSuccess !== undefined },
  // Failed, and the reschedule policy allows another try now.
  { verdict: 'reschedule', when: (s) => s.alloc.clientStatus === 'failed' && (rescheduleAt(s) ?? Infinity) <= s.now },
  // Failed, and the policy allows another try later: it holds its slot until then.
  { verdict: 'hold', when: (s) => s.alloc.clientStatus === 'failed' && rescheduleAt(s) !== undefined },
  // Failed past the policy: it keeps its slot, so the scheduler does not loop replacing it.
  { verdict: 'keep', when: (s) => s.alloc.clientStatus === 'failed' },
  // Batch work that completed is done; running it again would repeat it.
  { verdict: 'keep', when: (s) => s.job?.type === 'batch' && s.alloc.clientStatus === 'complete' },
  // Batch work past its `max_run_duration` is stopped, and not run again.
  { verdict: 'expire', when: (s) => live(s) && (maxRunEnd(s) ?? Infinity) <= s.now, reason: () => EXPIRED },
  // Batch work with a `max_run_duration`: evaluate again when it runs out.
  { verdict: 'hold', when: (s) => live(s) && maxRunEnd(s) !== undefined },
  // A service that exited, or an allocation lost with its node: the slot needs a replacement.
  { verdict: 'ignore', when: (s) => s.exited },
  // Pending or running, current version: it fills its slot.
  { verdict: 'keep', when: () => true },
];

/** The first rule that matches an allocation, with its stop reason. */
export function classify(subject: Subject): { verdict: Verdict; reason: string } {
  const rule = RULES.find((r) => r.when(subject)) ?? RULES[RULES.length - 1];
  return { verdict: rule.verdict, reason: rule.reason?.(subject) ?? '' };
}

/** A slot of a group that needs a new allocation. */
export interface PlaceRequest {
  group: string;
  index: number;
  /** `<job>.<group>[<index>]`. */
  name: string;
  /** The allocation this one replaces (lost, migrated, rescheduled, destructively updated). */
  previous?: Allocation;
  /** Set for a reschedule: the delay it waited, recorded in the chain of reschedule events. */
  rescheduleDelayMs?: number;
  /** System jobs: the one node this slot is on. */
  nodeId?: string;
  /** A canary: placed beside the allocation of its slot until the deployment is promoted. */
  canary?: boolean;
}
