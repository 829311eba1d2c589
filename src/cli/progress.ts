import type { BerthClient } from '../api/index.ts';
import type { Allocation, Job, PlacementFailure } from '../model/index.ts';
import { CliError } from './errors.ts';

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
export async function watchRollout(client: BerthClient, job: Job, evalId: string, out: NodeJS.WriteStream = process.stderr): Promise<RolloutOutcome> {
  const live = out.isTTY === true;
  let last = '';
  let index = 0;
  const started = Date.now();
  for (;;) {
    const { index: next, value: allocs } = await client.jobAllocations(job.id, { index, waitMs: 5_000 });
    index = next;
    const groups = progressOf(job, allocs);
    const line = render(job, groups, Date.now() - started);
    if (line !== last) {
      out.write(live ? `\r\x1b[2K${line}` : `${line}\n`);
      last = line;
    }
    const failed = allocs.filter((a) => a.jobVersion === job.version && a.clientStatus === 'failed');
    if (failed.length > 0) {
      if (live) out.write('\n');
      const a = failed[0];
      const why = a.clientDescription ?? lastEvent(a) ?? 'a task failed';
      return { ok: false, reason: `allocation ${a.id.slice(0, 8)} (${a.name}) failed: ${why}. See \`berth alloc status ${a.id.slice(0, 8)}\`` };
    }
    const done = Object.values(groups).every((g) => (job.type === 'batch' ? g.complete >= g.desired : g.running >= g.desired));
    if (done) {
      if (live) out.write('\n');
      return { ok: true };
    }
    const evaluation = await client.getEvaluation(evalId).catch(() => undefined);
    if (evaluation && evaluation.status !== 'pending' && evaluation.failures.length > 0) {
      const placed = Object.values(groups).reduce((n, g) => n + g.placed, 0);
      const desired = Object.values(groups).reduce((n, g) => n + g.desired, 0);
      if (placed < desired) {
        if (live) out.write('\n');
        return { ok: false, reason: describeFailures(evaluation.failures) };
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

/** Placement failures as people read them. */
export function describeFailures(failures: PlacementFailure[]): string {
  return failures
    .map((f) => {
      const reasons = Object.entries(f.filtered)
        .map(([reason, n]) => `${reason} on ${n} node${n === 1 ? '' : 's'}`)
        .join(', ');
      return `cannot place ${f.missing} allocation${f.missing === 1 ? '' : 's'} of group "${f.group}": ${f.nodesEvaluated} node${f.nodesEvaluated === 1 ? '' : 's'} evaluated${reasons ? `; ${reasons}` : ''}`;
    })
    .join('\n');
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

function lastEvent(a: Allocation): string | undefined {
  for (const t of Object.values(a.taskStates)) {
    const e = t.events.at(-1);
    if (e) return `${e.type}: ${e.message}`;
  }
  return undefined;
}
