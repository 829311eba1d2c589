import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { formatErrors, parseJobSpec } from '../../jobspec/index.ts';
import { CliError } from '../errors.ts';
import { printJson, table } from '../output.ts';

/** Adds `job plan FILE` to the `job` command: a dry run of the scheduler, committing nothing. */
export function addPlanCommand(job: Command): void {
  job
    .command('plan')
    .description('Show what running a job file would do: placements, updates, stops, and why anything cannot be placed')
    .argument('<file>', 'job spec (YAML or JSON)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`Cannot read job file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      const format = path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
      const parsed = parseJobSpec(text, { format, source: file });
      if (!parsed.ok) throw new CliError(`Invalid job spec ${file}:\n${formatErrors(parsed.errors, file)}`);
      const plan = await new BerthClient().planJob(parsed.job.id, text, format);
      if (opts.json) return printJson(plan);
      const rows = Object.entries(plan.groups).map(([g, c]) => [g, c.place, c.inplace, c.destructive, c.stop, c.migrate, c.lost]);
      const lines = [
        `Job "${plan.jobId}": ${plan.changed ? `would become version ${plan.version}` : `unchanged (version ${plan.version})`}`,
        table(['Group', 'Place', 'In place', 'Destructive', 'Stop', 'Migrate', 'Lost'], rows),
      ];
      if (plan.placements.length > 0) {
        const byNode = new Map<string, number>();
        for (const p of plan.placements) byNode.set(p.nodeName, (byNode.get(p.nodeName) ?? 0) + 1);
        lines.push(`New allocations on: ${[...byNode].map(([n, k]) => `${n} (${k})`).join(', ')}`);
      }
      for (const line of plan.explanation) lines.push(`Cannot place: ${line.replace(/^cannot place /, '')}`);
      process.stdout.write(lines.join('\n') + '\n');
      // Exit 1 when something would not be placed, so that scripts can gate on it.
      if (plan.failures.length > 0) process.exitCode = 1;
    });
}
