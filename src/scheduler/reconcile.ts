import { isClientTerminal, type Allocation, type Group, type Job } from '../model/index.ts';

/** A slot of a group that needs a new allocation. */
export interface PlaceRequest {
  group: string;
  index: number;
  /** `<job>.<group>[<index>]`. */
  name: string;
}

/** An allocation to stop, and why (shown as its desired description). */
export interface StopRequest {
  alloc: Allocation;
  reason: string;
}

/** The difference between what a job wants and what runs: the reconciler's buckets. */
export interface ReconcileResult {
  place: PlaceRequest[];
  stop: StopRequest[];
  /** Allocations left as they are: healthy ones in their slot, and ones that are already done. */
  ignore: Allocation[];
}

/** The stable name of the allocation in a slot. */
export function allocName(jobId: string, group: string, index: number): string {
  return `${jobId}.${group}[${index}]`;
}

/** What one allocation looks like from where the job stands now. */
interface Subject {
  alloc: Allocation;
  job: Job | undefined;
  group: Group | undefined;
  exited: boolean;
}

type Verdict = 'ignore' | 'stop' | 'keep';

interface Rule {
  verdict: Verdict;
  when: (s: Subject) => boolean;
  /** For `stop`: the description the allocation is stopped with. */
  reason?: (s: Subject) => string;
}

/**
 * How each allocation of the job is classified, first match wins. `keep` means "may fill its slot";
 * slots, scale-down and duplicates are settled afterwards, per group.
 */
const RULES: readonly Rule[] = [
  // Already told to stop: the agent is finishing it, and it never fills a slot again.
  { verdict: 'ignore', when: (s) => s.alloc.desiredStatus === 'stop' },
  // Nothing may keep running for a job that is gone.
  { verdict: 'stop', when: (s) => s.job === undefined && !s.exited, reason: () => 'job deregistered' },
  // `job stop` stops every allocation, whatever its version.
  { verdict: 'stop', when: (s) => s.job?.stop === true && !s.exited, reason: () => 'job stopped' },
  // What is left of a gone or stopped job has exited already: nothing to do.
  { verdict: 'ignore', when: (s) => s.job === undefined || s.job.stop },
  // The group was removed from the job.
  { verdict: 'stop', when: (s) => s.group === undefined && !s.exited, reason: () => 'group removed from job' },
  { verdict: 'ignore', when: (s) => s.group === undefined },
  // Destructive update: an older version makes way for the current one (all at once in this cut).
  {
    verdict: 'stop',
    when: (s) => s.alloc.jobVersion !== s.job?.version && !s.exited,
    reason: (s) => `replaced by job version ${s.job?.version}`,
  },
  // An older version that exited already: its slot gets a new allocation, it needs no stop.
  { verdict: 'ignore', when: (s) => s.alloc.jobVersion !== s.job?.version },
  // A failed allocation keeps its slot until the reschedule policy exists; replacing it would loop.
  { verdict: 'keep', when: (s) => s.alloc.clientStatus === 'failed' },
  // Batch work that completed is done; running it again would repeat it.
  { verdict: 'keep', when: (s) => s.job?.type === 'batch' && s.alloc.clientStatus === 'complete' },
  // A service that exited, or an allocation lost with its node: the slot needs a replacement.
  { verdict: 'ignore', when: (s) => s.exited },
  // Pending or running, current version: it fills its slot.
  { verdict: 'keep', when: () => true },
];

function classify(subject: Subject): { verdict: Verdict; reason: string } {
  const rule = RULES.find((r) => r.when(subject)) ?? RULES[RULES.length - 1];
  return { verdict: rule.verdict, reason: rule.reason?.(subject) ?? '' };
}

/**
 * Computes what to place and what to stop so that the job's allocations match the job, touching
 * nothing. Slots `0..count-1` of each group are filled by one allocation each; what is left over
 * (older versions, indexes past count, duplicates) is stopped.
 *
 * `now` is unused in this cut; the reschedule policy (delays since a failure) will need it.
 */
export function reconcile(job: Job | undefined, allocs: readonly Allocation[], now: number): ReconcileResult {
  void now;
  const result: ReconcileResult = { place: [], stop: [], ignore: [] };
  const kept = new Map<string, Allocation[]>();
  for (const alloc of allocs) {
    const group = job?.groups.find((g) => g.name === alloc.group);
    const { verdict, reason } = classify({ alloc, job, group, exited: isClientTerminal(alloc) });
    if (verdict === 'stop') result.stop.push({ alloc, reason });
    else if (verdict === 'ignore') result.ignore.push(alloc);
    else kept.set(alloc.group, [...(kept.get(alloc.group) ?? []), alloc]);
  }
  if (job !== undefined && !job.stop) {
    for (const group of job.groups) fillSlots(job, group, kept.get(group.name) ?? [], result);
  }
  result.stop.sort(highestIndexFirst);
  return result;
}

/** Settles the kept allocations of one group into its slots, and asks for the empty slots. */
function fillSlots(job: Job, group: Group, kept: Allocation[], result: ReconcileResult): void {
  const bySlot = new Map<number, Allocation[]>();
  for (const alloc of kept) {
    if (!Number.isInteger(alloc.index) || alloc.index < 0 || alloc.index >= group.count) {
      leave(alloc, 'scaled down', result);
    } else {
      bySlot.set(alloc.index, [...(bySlot.get(alloc.index) ?? []), alloc]);
    }
  }
  for (let index = 0; index < group.count; index++) {
    const [winner, ...extras] = (bySlot.get(index) ?? []).sort(preferred);
    if (winner === undefined) {
      result.place.push({ group: group.name, index, name: allocName(job.id, group.name, index) });
      continue;
    }
    result.ignore.push(winner);
    for (const extra of extras) leave(extra, 'duplicate index', result);
  }
}

/** A kept allocation that has no slot: stop it if it still runs, otherwise it is done already. */
function leave(alloc: Allocation, reason: string, result: ReconcileResult): void {
  if (isClientTerminal(alloc)) result.ignore.push(alloc);
  else result.stop.push({ alloc, reason });
}

/** Which of two allocations in one slot stays: a live one over an exited one, then the oldest. */
function preferred(a: Allocation, b: Allocation): number {
  const exited = Number(isClientTerminal(a)) - Number(isClientTerminal(b));
  if (exited !== 0) return exited;
  return a.createTime - b.createTime || a.id.localeCompare(b.id);
}

/** Scale-down stops the highest indexes first, so that what remains is `0..count-1`. */
function highestIndexFirst(a: StopRequest, b: StopRequest): number {
  return a.alloc.group.localeCompare(b.alloc.group) || b.alloc.index - a.alloc.index || a.alloc.id.localeCompare(b.alloc.id);
}
