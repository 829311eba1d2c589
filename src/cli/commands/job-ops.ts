import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { Allocation } from '../../model/index.ts';
import { CliError } from '../errors.ts';
import { watchDeployment } from '../deployment-progress.ts';
import { watchRollout } from '../progress.ts';

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
}

/** Wait until none of `ids` runs and every group of the job has its count running again. */
async function waitReplaced(client: BerthClient, jobId: string, ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let index = 0;
  for (;;) {
    const job = await client.getJob(jobId);
    const { index: next, value: allocs } = await client.jobAllocations(jobId, { index, waitMs: 2_000 });
    index = next;
    const old = allocs.filter((a: Allocation) => ids.includes(a.id) && a.clientStatus === 'running');
    const running = (g: string): number => allocs.filter((a) => a.group === g && a.desiredStatus === 'run' && a.clientStatus === 'running').length;
    if (old.length === 0 && job.groups.every((g) => running(g.name) >= g.count)) return;
    const failed = allocs.find((a) => a.previousAllocation !== undefined && ids.includes(a.previousAllocation) && a.clientStatus === 'failed');
    if (failed) throw new CliError(`Cannot restart job "${jobId}": replacement ${failed.id.slice(0, 8)} (${failed.name}) failed: ${failed.clientDescription ?? 'see berth alloc status'}`);
    if (Date.now() > deadline) throw new CliError(`Cannot restart job "${jobId}": the batch was not replaced within ${timeoutMs / 1000}s; see \`berth job status ${jobId}\``);
  }
}

/** Adds `job restart ID [--group G] [--batch-size N]` and `job scale ID [GROUP] COUNT`. */
export function addJobOpsCommands(job: Command): void {
  job
    .command('restart')
    .description('Replace the running allocations of a job with fresh ones, a batch at a time, without a spec change')
    .argument('<id>', 'job id')
    .option('--group <group>', 'only this group')
    .option('--batch-size <n>', 'allocations replaced at a time', count, 1)
    .option('--batch-timeout <seconds>', 'how long one batch may take', count, 120)
    .action(async (id: string, opts: { group?: string; batchSize: number; batchTimeout: number }) => {
      const client = new BerthClient();
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
      process.stderr.write(`Job "${id}": ${targets.length} allocation(s) restarted\n`);
    });

  job
    .command('scale')
    .description("Set a group's count (in place: running allocations are not restarted)")
    .argument('<id>', 'job id')
    .argument('<group-or-count>', 'the group (optional when the job has one), then the count')
    .argument('[count]', 'the count, when a group is named')
    .option('--detach', 'return once registered')
    .action(async (id: string, a: string, b: string | undefined, opts: { detach?: boolean }) => {
      const group = b === undefined ? undefined : a;
      const n = count(b ?? a);
      const client = new BerthClient();
      const result = await client.scaleJob(id, group, n);
      process.stderr.write(`Job "${id}" scaled${group ? ` (group ${group})` : ''} to ${n}: version ${result.version}, evaluation ${result.evalId.slice(0, 8)}\n`);
      if (opts.detach) return;
      const outcome = result.deploymentId ? await watchDeployment(client, result.deploymentId) : await watchRollout(client, await client.getJob(id), result.evalId);
      if (!outcome.ok) throw new CliError(outcome.reason);
    });
}
