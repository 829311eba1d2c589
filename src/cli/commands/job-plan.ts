import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { BerthClient, MAX_BODY_BYTES, type JobPlanResponse } from '../../api/index.ts';
import { formatDiff, formatErrors, parseJobSpec } from '../../jobspec/index.ts';
import { CliError } from '../errors.ts';
import { printJson, table } from '../output.ts';
import { shortfallText } from '../placement-text.ts';

/** `job plan` exit codes (Terraform's and Nomad's): nothing would change, something would, an error. */
export const PLAN_EXIT = { noChange: 0, changes: 1, error: 255 } as const;

/** Read and validate a job file, as `job run` and `job plan` do. */
export async function readJobFile(file: string): Promise<{ text: string; format: 'yaml' | 'json'; id: string }> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`Cannot read job file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_BODY_BYTES) {
    throw new CliError(`Cannot submit job file ${file}: it is ${(bytes / 1048576).toFixed(1)} MiB and a server takes at most ${MAX_BODY_BYTES / 1048576} MiB; move large data out of the spec (an artifact, a KV key, a dispatch payload)`);
  }
  const format = path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
  const parsed = parseJobSpec(text, { format, source: file });
  if (!parsed.ok) throw new CliError(`Invalid job spec ${file}:\n${formatErrors(parsed.errors, file)}`);
  return { text, format, id: parsed.job.id };
}

/** Whether applying the plan would change anything at all. */
export function planChanges(plan: JobPlanResponse): boolean {
  if (plan.changed) return true;
  return Object.values(plan.groups).some((c) => c.place + c.stop + c.inplace + c.destructive + c.migrate + c.lost + c.reschedule > 0);
}

/** The plan for people: the diff, the counts per group, what forces destructive updates, the dry run. */
export function formatPlan(plan: JobPlanResponse): string {
  const lines = [`Job "${plan.jobId}": ${plan.changed ? `would become version ${plan.version}` : `unchanged (version ${plan.version})`}`];
  const diff = plan.diff ? formatDiff(plan.diff) : [];
  if (diff.length > 0) lines.push('', 'Changes', ...diff.map((l) => `  ${l}`));
  const rows = Object.entries(plan.groups).map(([g, c]) => [g, c.place, c.stop, c.inplace, c.destructive, c.migrate, c.canary ?? 0, c.lost]);
  lines.push('', 'Scheduler dry run', table(['Group', 'Create', 'Destroy', 'In place', 'Destructive', 'Migrate', 'Canary', 'Lost'], rows));
  for (const g of plan.diff?.groups ?? []) {
    if (g.destructive.length > 0) lines.push(`Group "${g.name}" needs new allocations because of: ${g.destructive.join(', ')}`);
  }
  if (plan.placements.length > 0) {
    const byNode = new Map<string, number>();
    for (const p of plan.placements) byNode.set(p.nodeName, (byNode.get(p.nodeName) ?? 0) + 1);
    lines.push(`New allocations on: ${[...byNode].map(([n, k]) => `${n} (${k})`).join(', ')}`);
  }
  if (plan.failures.length === 0) lines.push('All allocations would be placed.');
  for (const w of plan.held ?? []) lines.push(`Held first: waiting for job "${w.job}" to be ${w.condition}: ${w.reason}`);
  for (const [i, line] of plan.explanation.entries()) {
    lines.push(`Cannot place: ${line.replace(/^cannot place /, '')}`);
    for (const [d, short] of Object.entries(plan.failures[i]?.shortfall ?? {})) lines.push(`  ${shortfallText(d, short)}`);
  }
  lines.push(
    '',
    `Job modify index: ${plan.modifyIndex ?? 0}`,
    'To apply exactly this plan, only if the job did not change meanwhile:',
    `  berth job run --check-index ${plan.modifyIndex ?? 0} FILE`,
  );
  return lines.join('\n');
}

/** Adds `job plan FILE` to the `job` command: a dry run of the scheduler, committing nothing. */
export function addPlanCommand(job: Command): void {
  job
    .command('plan')
    .description('Show what running a job file would change: a diff, per-group counts, the scheduler dry run; exit 0 no change, 1 changes, 255 error')
    .argument('<file>', 'job spec (YAML or JSON)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let plan: JobPlanResponse;
      try {
        const { text, format, id } = await readJobFile(file);
        plan = await new BerthClient().planJob(id, text, format);
      } catch (err) {
        throw new CliError((err as Error).message, PLAN_EXIT.error);
      }
      if (opts.json) printJson(plan);
      else process.stdout.write(formatPlan(plan) + '\n');
      process.exitCode = planChanges(plan) ? PLAN_EXIT.changes : PLAN_EXIT.noChange;
    });
}
