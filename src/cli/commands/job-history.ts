import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { formatDiff } from '../../jobspec/index.ts';
import { printJson, table, when } from '../output.ts';
import { watchRollout } from '../progress.ts';
import { CliError } from '../errors.ts';
import { resolveJobId } from '../resolve.ts';

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
}

/** Adds `job history ID [--diff]` and `job revert ID VERSION` to the `job` command. */
export function addHistoryCommands(job: Command): void {
  job
    .command('history')
    .description('List the kept versions of a job (the last 20), newest first')
    .argument('<id>', 'job id or a unique prefix')
    .option('--diff', 'show what each version changed from the one before')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { diff?: boolean; json?: boolean }) => {
      const client = new BerthClient();
      const { versions, diffs } = await client.jobVersions(await resolveJobId(client, ref));
      if (opts.json) return printJson({ versions, diffs });
      if (!opts.diff) {
        const rows = versions.map((v) => [v.version, v.stop ? 'yes' : 'no', v.groups.map((g) => `${g.name}×${g.count}`).join(','), when(v.submitTime)]);
        return void process.stdout.write(table(['Version', 'Stopped', 'Groups', 'Submitted'], rows) + '\n');
      }
      const lines: string[] = [];
      for (const v of versions) {
        lines.push(`Version ${v.version}${v.stop ? ' (stopped)' : ''}, submitted ${when(v.submitTime)}`);
        const d = diffs.find((x) => x.to === v.version);
        if (d) lines.push(...formatDiff(d.diff).map((l) => `  ${l}`), '');
        else lines.push('  (oldest kept version)', '');
      }
      process.stdout.write(lines.join('\n'));
    });

  job
    .command('revert')
    .description('Register a kept version of a job again, as its newest version')
    .argument('<id>', 'job id or a unique prefix')
    .argument('<version>', 'the version to go back to (see `berth job history`)', nonNegativeInt)
    .option('--check-index <n>', 'revert only if the job is still at this modify index', nonNegativeInt)
    .option('--detach', 'return once the revert is registered')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, version: number, opts: { checkIndex?: number; detach?: boolean; json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const result = await client.revertJob(id, version, opts.checkIndex);
      if (!opts.json) process.stdout.write(`Job "${id}" reverted to the spec of version ${version}: now version ${result.version}, evaluation ${result.evalId.slice(0, 8)}\n`);
      if (opts.detach) return opts.json ? printJson(result) : undefined;
      const outcome = await watchRollout(client, { job: await client.getJob(id), evalId: result.evalId });
      if (opts.json) printJson({ ...result, outcome });
      if (!outcome.ok) throw new CliError(outcome.reason);
    });
}
