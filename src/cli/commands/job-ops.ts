import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { Allocation, Job } from '../../model/index.ts';
import { CliError, UsageError } from '../errors.ts';
import { printJson } from '../output.ts';
import { resolveJobId } from '../resolve.ts';
import { watchDeployment } from '../deployment-progress.ts';
import { watchRollout } from '../progress.ts';

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
}

/** What `/v1/health/service/:name` answers, the fields read here. */
interface HealthEntry {
  Service: { ID: string };
  Checks: { Status: string }[];
}

/** The names of a group's services, its own and its tasks', that have checks. */
function checkedServices(job: Job, group: string): string[] {
  const g = job.groups.find((x) => x.name === group);
  const all = [...(g?.services ?? []), ...(g?.tasks ?? []).flatMap((t) => t.services ?? [])];
  return [...new Set(all.filter((s) => s.checks.length > 0).map((s) => s.name))];
}

/**
 * Whether every service of the replacements that has checks is in the catalog with all of them
 * passing, so that the next batch does not take down the last instances that answer. Instance
 * ids name their allocation (`_berth-group-<alloc>-...`, see discovery/catalog).
 */
async function replacementsPass(client: BerthClient, job: Job, replacements: Allocation[]): Promise<boolean> {
  const health = new Map<string, HealthEntry[]>();
  for (const a of replacements) {
    for (const name of checkedServices(job, a.group)) {
      if (!health.has(name)) health.set(name, JSON.parse(await client.text(`/v1/health/service/${encodeURIComponent(name)}`)) as HealthEntry[]);
      const mine = health.get(name)!.filter((e) => e.Service.ID.includes(a.id));
      if (mine.length === 0 || mine.some((e) => e.Checks.some((c) => c.Status !== 'passing'))) return false;
    }
  }
  return true;
}

/**
 * Wait until none of `ids` runs, every group of the job has its count running again, and the
 * replacements pass their service checks.
 */
async function waitReplaced(client: BerthClient, jobId: string, ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let index = 0;
  for (;;) {
    const job = await client.getJob(jobId);
    // A short wait: check results change the catalog, not the allocations this blocks on.
    const { index: next, value: allocs } = await client.jobAllocations(jobId, { index, waitMs: 1_000 });
    index = next;
    const old = allocs.filter((a: Allocation) => ids.includes(a.id) && a.clientStatus === 'running');
    const running = (g: string): number => allocs.filter((a) => a.group === g && a.desiredStatus === 'run' && a.clientStatus === 'running').length;
    const replacements = allocs.filter((a) => a.previousAllocation !== undefined && ids.includes(a.previousAllocation) && a.desiredStatus === 'run');
    if (old.length === 0 && job.groups.every((g) => running(g.name) >= g.count) && (await replacementsPass(client, job, replacements))) return;
    const failed = allocs.find((a) => a.previousAllocation !== undefined && ids.includes(a.previousAllocation) && a.clientStatus === 'failed');
    if (failed) throw new CliError(`Cannot restart job "${jobId}": replacement ${failed.id.slice(0, 8)} (${failed.name}) failed: ${failed.clientDescription ?? 'see berth alloc status'}`);
    if (Date.now() > deadline) throw new CliError(`Cannot restart job "${jobId}": the batch was not replaced and passing its checks within ${timeoutMs / 1000}s; see \`berth job status ${jobId}\` and \`berth service info\``);
  }
}

/** Adds `job restart ID [--group G] [--batch-size N]` and `job scale ID [GROUP] COUNT`. */
export function addJobOpsCommands(job: Command): void {
  job
    .command('restart')
    .description('Replace the running allocations of a job with fresh ones, a batch at a time, without a spec change; each batch waits for its replacements to run and pass their checks')
    .argument('<id>', 'job id or a unique prefix')
    .option('--group <group>', 'only this group')
    .option('--batch-size <n>', 'allocations replaced at a time', count, 1)
    .option('--batch-timeout <seconds>', 'how long one batch may take to run and pass its checks', count, 120)
    .option('--json', 'print the restarted allocations as JSON')
    .action(async (ref: string, opts: { group?: string; batchSize: number; batchTimeout: number; json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const job = await client.getJob(id);
      if (opts.group && !job.groups.some((g) => g.name === opts.group)) throw new CliError(`Cannot restart job "${id}": no group "${opts.group}"`);
      const { value: allocs } = await client.jobAllocations(id);
      const targets = allocs
        .filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running' && (!opts.group || a.group === opts.group))
        .sort((a, b) => a.group.localeCompare(b.group) || a.index - b.index);
      if (targets.length === 0) throw new CliError(`Cannot restart job "${id}": no running allocations${opts.group ? ` in group "${opts.group}"` : ''}`);
      const size = Math.max(1, opts.batchSize);
      for (let i = 0; i < targets.length; i += size) {
        const batch = targets.slice(i, i + size).map((a) => a.id);
        await client.restartAllocs(id, batch);
        process.stderr.write(`Restarting ${batch.length} allocation(s) (${i + batch.length}/${targets.length}): ${batch.map((b) => b.slice(0, 8)).join(', ')}\n`);
        await waitReplaced(client, id, batch, opts.batchTimeout * 1000);
      }
      if (opts.json) return printJson({ jobId: id, restarted: targets.map((a) => a.id) });
      process.stdout.write(`Job "${id}": ${targets.length} allocation(s) restarted\n`);
    });

  job
    .command('scale')
    .description("Set a group's count (in place: running allocations are not restarted)")
    .argument('<id>', 'job id or a unique prefix')
    .argument('<group-or-count>', 'the group (optional when the job has one), then the count')
    .argument('[count]', 'the count, when a group is named')
    .option('--detach', 'return once registered')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, a: string, b: string | undefined, opts: { detach?: boolean; json?: boolean }) => {
      const group = b === undefined ? undefined : a;
      const text = b ?? a;
      if (!/^\d+$/.test(text)) throw new UsageError(`Cannot scale job "${ref}": the count must be a whole number of allocations, got "${text}"${b === undefined ? '' : ` (for group "${group}")`}`);
      const n = Number(text);
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const result = await client.scaleJob(id, group, n);
      if (!opts.json) process.stdout.write(`Job "${id}" scaled${group ? ` (group ${group})` : ''} to ${n}: version ${result.version}, evaluation ${result.evalId.slice(0, 8)}\n`);
      if (opts.detach) return opts.json ? printJson(result) : undefined;
      const outcome = result.deploymentId ? await watchDeployment(client, result.deploymentId) : await watchRollout(client, { job: await client.getJob(id), evalId: result.evalId });
      if (opts.json) printJson({ ...result, outcome });
      if (!outcome.ok) throw new CliError(outcome.reason);
    });
}
