import { isClientTerminal, type Allocation, type Deployment, type Group, type Job, type Node } from '../model/index.ts';
import { reschedulePolicy, rescheduleVerdict } from './reschedule.ts';
import { classify, type Subject, type Verdict } from './reconcile-rules.ts';
import { canaryPlacements, paceDestructive, setCanariesAside } from './rolling.ts';
import type { PlaceRequest } from './reconcile-rules.ts';

export type { PlaceRequest };


/** An allocation to stop, and why (shown as its desired description). */
export interface StopRequest {
  alloc: Allocation;
  reason: string;
  /** Set when the allocation is given up with its node. */
  clientStatus?: 'lost';
}

/** A time at which the job must be evaluated again, and for which allocation. */
export interface Followup {
  alloc: Allocation;
  at: number;
  reason: string;
}

/** The difference between what a job wants and what runs: the reconciler's buckets. */
export interface ReconcileResult {
  place: PlaceRequest[];
  stop: StopRequest[];
  /** Live allocations of an older version whose tasks did not change: they take the new version. */
  inplace: Allocation[];
  /** Older versions replaced: each is in `stop`, and its slot in `place`. */
  destructive: Allocation[];
  /** Allocations moved off a draining node: in `stop` and `place`. */
  migrate: Allocation[];
  /** Allocations given up with their node: in `stop` (as lost) and `place`. */
  lost: Allocation[];
  /** Failed allocations placed again now: their slot is in `place`. */
  reschedule: Allocation[];
  /** Evaluations to make for later: delayed reschedules, `lost_after`, `max_run_duration`. */
  followups: Followup[];
  /** Allocations left as they are. */
  ignore: Allocation[];
}

/** The stable name of the allocation in a slot. */
export function allocName(jobId: string, group: string, index: number): string {
  return `${jobId}.${group}[${index}]`;
}

/** What the reconciler needs besides the job and its allocations. */
export interface ReconcileOptions {
  /** The time the evaluation runs at. */
  now: number;
  /** Nodes that are down or draining, by id. */
  tainted?: ReadonlyMap<string, Node>;
  /** Allocation ids that a later allocation already replaces. */
  replaced?: ReadonlySet<string>;
  /** The job's newest deployment: it paces destructive updates (see `rolling.ts`). */
  deployment?: Deployment;
}

export type { Rule, Subject, Verdict } from './reconcile-rules.ts';
export { RULES, canUpdateInPlace } from './reconcile-rules.ts';

/**
 * Computes what to place, stop, update and follow up so that the job's allocations match the job,
 * touching nothing. Slots `0..count-1` of each group are filled by one allocation each; what is
 * left over (older versions, indexes past count, duplicates) is stopped.
 */
export function reconcile(job: Job | undefined, allocs: readonly Allocation[], options: ReconcileOptions): ReconcileResult {
  const { now } = options;
  const result: ReconcileResult = { place: [], stop: [], inplace: [], destructive: [], migrate: [], lost: [], reschedule: [], followups: [], ignore: [] };
  const tainted = options.tainted ?? new Map<string, Node>();
  const replaced = options.replaced ?? replacedIds(allocs);
  const kept = new Map<string, Allocation[]>();
  /** Per group, slot -> the allocation a replacement there takes over from. */
  const displaced = new Map<string, Map<number, { alloc: Allocation; delayMs?: number }>>();
  const keep = (alloc: Allocation): void => {
    const list = kept.get(alloc.group);
    if (list === undefined) kept.set(alloc.group, [alloc]);
    else list.push(alloc);
  };
  const displace = (alloc: Allocation, delayMs?: number): void => {
    let slots = displaced.get(alloc.group);
    if (slots === undefined) displaced.set(alloc.group, (slots = new Map()));
    // A slot's running instance (lost, migrating, replaced) outranks a failed one to reschedule.
    const held = slots.get(alloc.index);
    if (held !== undefined && !isClientTerminal(held.alloc) && isClientTerminal(alloc)) return;
    slots.set(alloc.index, { alloc, delayMs });
  };
  const classified = allocs.map((alloc) => {
    const group = job?.groups.find((g) => g.name === alloc.group);
    const subject: Subject = { alloc, job, group, exited: isClientTerminal(alloc), node: tainted.get(alloc.nodeId), now, replaced: replaced.has(alloc.id) };
    return { subject, ...classify(subject) };
  });
  const rollout = job && { job, allocs, deployment: options.deployment };
  if (rollout !== undefined) {
    paceDestructive(rollout, classified);
    setCanariesAside(rollout.job, classified, options.deployment);
  }
  for (const { subject, verdict, reason } of classified) settle(subject, verdict, reason, result, { keep, displace });
  if (job !== undefined && !job.stop && job.type !== 'system') {
    for (const group of job.groups) fillSlots(job, group, kept.get(group.name) ?? [], displaced.get(group.name), result);
    result.place.push(...canaryPlacements({ job, allocs, deployment: options.deployment }, (g, i) => allocName(job.id, g, i)));
  }
  result.stop.sort(highestIndexFirst);
  return result;
}

interface Sinks {
  keep: (alloc: Allocation) => void;
  displace: (alloc: Allocation, delayMs?: number) => void;
}

/** Puts one classified allocation in its buckets. */
function settle(s: Subject, verdict: Verdict, reason: string, result: ReconcileResult, sinks: Sinks): void {
  const { alloc } = s;
  switch (verdict) {
    case 'keep':
      return sinks.keep(alloc);
    case 'ignore':
      result.ignore.push(alloc);
      return;
    case 'stop':
      result.stop.push({ alloc, reason });
      return;
    case 'expire':
      // Stopped for running too long: it keeps its slot, so that it is not run again.
      result.stop.push({ alloc, reason });
      return sinks.keep(alloc);
    case 'inplace':
      result.inplace.push(alloc);
      return sinks.keep(alloc);
    case 'hold':
      sinks.keep(alloc);
      if (alloc.followupEvalId === undefined) result.followups.push(followupOf(s));
      return;
    case 'unknown': {
      const policy = s.group?.disconnect;
      if (alloc.followupEvalId === undefined) result.followups.push(followupOf(s));
      if (policy?.replace === true) return;
      return sinks.keep(alloc);
    }
    case 'lost':
      result.lost.push(alloc);
      result.stop.push({ alloc, reason, clientStatus: 'lost' });
      if (s.job?.type !== 'system') sinks.displace(alloc);
      return;
    case 'migrate':
      result.migrate.push(alloc);
      result.stop.push({ alloc, reason });
      return sinks.displace(alloc);
    case 'destructive':
      result.destructive.push(alloc);
      result.stop.push({ alloc, reason });
      return sinks.displace(alloc);
    case 'reschedule': {
      const verdictNow = rescheduleVerdict(alloc, reschedulePolicy(s.job?.type ?? 'service', s.group), s.now);
      result.reschedule.push(alloc);
      result.ignore.push(alloc);
      return sinks.displace(alloc, verdictNow.reschedule ? verdictNow.delayMs : 0);
    }
  }
}

/** When a held or disconnected allocation must be looked at again. */
function followupOf(s: Subject): Followup {
  const { alloc, group, job, now } = s;
  if (s.node?.status === 'down') {
    const at = (s.node.downSince ?? now) + (group?.disconnect?.lostAfterMs ?? 0);
    return { alloc, at, reason: 'disconnect lost_after' };
  }
  if (alloc.clientStatus === 'failed') {
    const v = rescheduleVerdict(alloc, reschedulePolicy(job?.type ?? 'service', group), now);
    return { alloc, at: v.reschedule ? v.at : now, reason: 'reschedule delay' };
  }
  return { alloc, at: alloc.createTime + (job?.maxRunDurationMs ?? 0), reason: 'max_run_duration' };
}

/** Ids of allocations that some other allocation names as its previous one. */
function replacedIds(allocs: readonly Allocation[]): Set<string> {
  const ids = new Set<string>();
  for (const a of allocs) if (a.previousAllocation !== undefined) ids.add(a.previousAllocation);
  return ids;
}

/** Settles the kept allocations of one group into its slots, and asks for the empty slots. */
function fillSlots(
  job: Job,
  group: Group,
  kept: Allocation[],
  displaced: ReadonlyMap<number, { alloc: Allocation; delayMs?: number }> | undefined,
  result: ReconcileResult,
): void {
  const bySlot = new Map<number, Allocation[]>();
  for (const alloc of kept) {
    if (!Number.isInteger(alloc.index) || alloc.index < 0 || alloc.index >= group.count) {
      leave(alloc, 'scaled down', result);
      continue;
    }
    const list = bySlot.get(alloc.index);
    if (list === undefined) bySlot.set(alloc.index, [alloc]);
    else list.push(alloc);
  }
  const prefer = preferenceOf(group);
  for (let index = 0; index < group.count; index++) {
    const [winner, ...extras] = (bySlot.get(index) ?? []).sort(prefer);
    const from = displaced?.get(index);
    // A slot held only by an exited allocation (failed past its policy) still gets a replacement
    // for a live one that was lost or moved from it: that one was the slot's running instance.
    const replaceLive = winner?.clientStatus === 'failed' && from !== undefined && !isClientTerminal(from.alloc);
    if (winner === undefined || replaceLive) {
      const request: PlaceRequest = { group: group.name, index, name: allocName(job.id, group.name, index) };
      if (from !== undefined) request.previous = from.alloc;
      if (from?.delayMs !== undefined) request.rescheduleDelayMs = from.delayMs;
      result.place.push(request);
      if (winner === undefined) continue;
    }
    if (!result.inplace.includes(winner)) result.ignore.push(winner);
    for (const extra of extras) leave(extra, 'duplicate index', result);
  }
}

/** A kept allocation that has no slot: stop it if it still runs, otherwise it is done already. */
function leave(alloc: Allocation, reason: string, result: ReconcileResult): void {
  const i = result.inplace.indexOf(alloc);
  if (i >= 0) result.inplace.splice(i, 1);
  if (isClientTerminal(alloc) || alloc.desiredStatus === 'stop') result.ignore.push(alloc);
  else result.stop.push({ alloc, reason });
}

/**
 * Which of two allocations in one slot stays: a live one over an exited one, then, as the group's
 * `disconnect.reconcile` says, the original (oldest, the default) or the replacement (newest).
 */
function preferenceOf(group: Group): (a: Allocation, b: Allocation) => number {
  const newestFirst = group.disconnect?.reconcile === 'keep_replacement';
  return (a, b) => {
    const exited = Number(isClientTerminal(a)) - Number(isClientTerminal(b));
    if (exited !== 0) return exited;
    const age = newestFirst ? b.createTime - a.createTime : a.createTime - b.createTime;
    return age || a.id.localeCompare(b.id);
  };
}

/** Scale-down stops the highest indexes first, so that what remains is `0..count-1`. */
function highestIndexFirst(a: StopRequest, b: StopRequest): number {
  return a.alloc.group.localeCompare(b.alloc.group) || b.alloc.index - a.alloc.index || a.alloc.id.localeCompare(b.alloc.id);
}
