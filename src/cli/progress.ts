import type { BerthClient } from '../api/index.ts';
import type { Allocation, Job } from '../model/index.ts';
import { CliError } from './errors.ts';
import { unplaceableText } from './placement-text.ts';

/** How a rollout ended. */
export type RolloutOutcome = { ok: true } | { ok: false; reason: string };

/** Counts of one group's allocations of the version being rolled out. */
interface GroupProgress {
  desired: number;
  placed: number;
  running: number;
  complete: number;
  failed: number;
}

/**
 * Follow a job's rollout until every group of `version` runs (service) or finishes (batch),
 * printing live progress: one rewritten line on a terminal, a line per change otherwise.
 */
export async function watchRollout(client: BerthClient, rollout: { job: Job; evalId: string; out?: NodeJS.WriteStream }): Promise<RolloutOutcome> {
  const { job, evalId, out = process.stderr } = rollout;
  const live = out.isTTY === true;
  let last = '';
  let index = 0;
  const started = Date.now();
  const seen = new Map<string, number>();
  let heldSaid = false;
  for (;;) {
    const { index: next, value: allocs } = await client.jobAllocations(job.id, { index, waitMs: 5_000 });
    index = next;
    const groups = progressOf(job, allocs);
    const line = render(job, groups, Date.now() - started);
    const news = taskTrouble(allocs.filter((a) => a.jobVersion === job.version), seen);
    if (news.length > 0) {
      // Said as it happens, so that nobody waits out the restart policy to learn the cause.
      out.write(`${live && last ? '\r\x1b[2K' : ''}${news.join('\n')}\n`);
      last = '';
    }
    if (line !== last) {
      out.write(live ? `\r\x1b[2K${line}` : `${line}\n`);
      last = line;
    }
    const failed = allocs.filter((a) => a.jobVersion === job.version && a.clientStatus === 'failed');
    if (failed.length > 0) {
      if (live) out.write('\n');
      return { ok: false, reason: failedAllocText(failed[0]) };
    }
    const done = Object.values(groups).every((g) => (job.type === 'batch' ? g.complete >= g.desired : g.running >= g.desired));
    if (done) {
      if (live) out.write('\n');
      return { ok: true };
    }
    const evaluation = await client.getEvaluation(evalId).catch(() => undefined);
    if (evaluation?.held?.length && !heldSaid) {
      // Said once: the job is placed by itself when they are met, and this keeps following it.
      out.write(`${live && last ? '\r\x1b[2K' : ''}Held: ${evaluation.held.map((w) => `waiting for job "${w.job}" to be ${w.condition} (${w.reason})`).join('; ')}\n`);
      last = '';
      heldSaid = true;
    }
    if (evaluation && evaluation.status !== 'pending' && evaluation.failures.length > 0) {
      const placed = Object.values(groups).reduce((n, g) => n + g.placed, 0);
      const desired = Object.values(groups).reduce((n, g) => n + g.desired, 0);
      if (placed < desired) {
        if (live) out.write('\n');
        return { ok: false, reason: unplaceableText(job.id, evaluation.failures) };
      }
    }
  }
}

/** Wait until no allocation of the job is running or about to, printing progress. */
export async function watchStop(client: BerthClient, jobId: string, out: NodeJS.WriteStream = process.stderr): Promise<void> {
  let index = 0;
  let last = '';
  for (;;) {
    const { index: next, value: allocs } = await client.jobAllocations(jobId, { index, waitMs: 5_000 }).catch((err: unknown) => {
      throw new CliError(`Cannot follow the stop of job "${jobId}": ${(err as Error).message}`);
    });
    index = next;
    const active = allocs.filter((a) => a.clientStatus === 'running' || (a.clientStatus === 'pending' && a.desiredStatus === 'run'));
    const line = `${jobId}: ${active.length} allocation${active.length === 1 ? '' : 's'} still running`;
    if (line !== last) {
      out.write(out.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
      last = line;
    }
    if (active.length === 0) {
      if (out.isTTY) out.write('\n');
      return;
    }
  }
}

function progressOf(job: Job, allocs: Allocation[]): Record<string, GroupProgress> {
  const out: Record<string, GroupProgress> = {};
  for (const g of job.groups) out[g.name] = { desired: g.count, placed: 0, running: 0, complete: 0, failed: 0 };
  for (const a of allocs) {
    const g = out[a.group];
    if (!g || a.jobVersion !== job.version || a.desiredStatus !== 'run') continue;
    g.placed++;
    if (a.clientStatus === 'running') g.running++;
    if (a.clientStatus === 'complete') g.complete++;
    if (a.clientStatus === 'failed') g.failed++;
  }
  return out;
}

function render(job: Job, groups: Record<string, GroupProgress>, elapsedMs: number): string {
  const parts = Object.entries(groups).map(([name, g]) => {
    const done = job.type === 'batch' ? `${g.complete} complete` : `${g.running} running`;
    return `${name}: ${g.desired} desired, ${g.placed} placed, ${done}${g.failed ? `, ${g.failed} failed` : ''}`;
  });
  return `${job.id} v${job.version} [${(elapsedMs / 1000).toFixed(1)}s] ${parts.join(' | ')}`;
}

/** Task events worth saying while a rollout waits: a task that could not start, or ended and restarts. */
const TROUBLE = new Set(['Driver Failure', 'Terminated', 'Restarting', 'Not Restarting', 'Killed']);

/** The trouble events of `allocs` not said yet (`seen`: events already looked at, per alloc and task). */
function taskTrouble(allocs: Allocation[], seen: Map<string, number>): string[] {
  const lines: string[] = [];
  for (const a of allocs) {
    for (const [name, t] of Object.entries(a.taskStates)) {
      const key = `${a.id}/${name}`;
      // Events are capped (the oldest dropped), so count by time, not position.
      const after = seen.get(key) ?? 0;
      for (const e of t.events) if (e.time > after && TROUBLE.has(e.type)) lines.push(`${a.name} (${a.id.slice(0, 8)}) task "${name}": ${e.type}: ${e.message}`);
      const newest = t.events.at(-1)?.time;
      if (newest !== undefined && newest > after) seen.set(key, newest);
    }
  }
  return lines;
}

/**
 * Why an allocation failed, in the words of its tasks: the allocation's description, then each
 * failed task's last events, the driver's own message among them (a missing image, a command that
 * is not there), then where to see more.
 */
export function failedAllocText(a: Allocation): string {
  const short = a.id.slice(0, 8);
  const lines = [`Allocation ${short} (${a.name}) failed${a.clientDescription ? `: ${a.clientDescription}` : ''}`];
  for (const [name, t] of Object.entries(a.taskStates)) {
    if (!t.failed && t.state !== 'dead') continue;
    const last = t.events.at(-1);
    // The cause is usually the event before "Not Restarting": a driver failure, an exit code.
    const cause = [...t.events].reverse().find((e) => e.type === 'Driver Failure' || e.type === 'Terminated' || e.type === 'Killed');
    for (const e of cause && cause !== last ? [cause, last!] : last ? [last] : []) lines.push(`  task "${name}": ${e.type}: ${e.message}`);
  }
  lines.push(`See more: berth alloc status ${short}`);
  return lines.join('\n');
}
