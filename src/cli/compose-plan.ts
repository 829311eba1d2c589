/**
 * `berth compose plan`: for each service in dependency order, what registering its job would change
 * (the server's dry run, as `job plan`), and the project's jobs that `up --remove-orphans` would
 * stop. Exit codes as `job plan`: 0 nothing would change, 1 something would, 255 an error.
 */
import { BerthClient, type JobPlanResponse } from '../api/index.ts';
import { cycleMessage, dependencyOrder, type MappedService } from '../compose/index.ts';
import { formatDiff } from '../jobspec/index.ts';
import { PLAN_EXIT, planChanges } from './commands/job-plan.ts';
import { nodeCount, projectJobs, readProject, serviceOf, type ComposeOptions } from './compose-project.ts';
import { CliError } from './errors.ts';
import { printJson } from './output.ts';

interface ServicePlan {
  service: string;
  jobId: string;
  dependsOn: string[];
  plan: JobPlanResponse;
}

/** One service's lines: what happens to its job, the diff, the placement counts that change. */
function serviceLines(p: ServicePlan): string[] {
  const counts = Object.values(p.plan.groups)[0];
  const isNew = p.plan.diff?.kind === 'added' || (p.plan.modifyIndex ?? 0) === 0;
  const changes = planChanges(p.plan);
  const mark = !changes ? '=' : isNew ? '+' : '~';
  const what = !changes ? 'unchanged' : isNew ? 'create' : 'update';
  const after = p.dependsOn.length > 0 ? `, after ${p.dependsOn.join(', ')}` : '';
  const lines = [`${mark} ${p.service} (job ${p.jobId}): ${what}${after}`];
  if (changes && !isNew && p.plan.diff) lines.push(...formatDiff(p.plan.diff).map((l) => `    ${l}`));
  if (counts && changes) {
    const parts = Object.entries({ place: counts.place, stop: counts.stop, 'in place': counts.inplace, destructive: counts.destructive }).filter(([, n]) => n > 0);
    if (parts.length > 0) lines.push(`    allocations: ${parts.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  for (const e of p.plan.explanation) lines.push(`    cannot place: ${e.replace(/^cannot place /, '')}`);
  return lines;
}

/** Runs `plan`; sets the exit code. */
export async function composePlan(o: ComposeOptions & { json?: boolean }): Promise<void> {
  let plans: ServicePlan[];
  let orphanIds: string[];
  let order: string[][];
  try {
    const client = new BerthClient();
    const { project, jobs } = readProject(o, { nodes: await nodeCount(client) });
    const sorted = dependencyOrder(jobs);
    if (!sorted.ok) throw new CliError(`Cannot plan project "${project.name}": ${cycleMessage(sorted.cycle)}`);
    order = sorted.batches;
    const byName = new Map(jobs.map((j) => [j.service, j]));
    plans = await Promise.all(order.flat().map(async (name) => {
      const job = byName.get(name) as MappedService;
      return { service: name, jobId: job.jobId, dependsOn: Object.keys(job.dependsOn), plan: await client.planJob(job.jobId, job.spec, 'json') };
    }));
    orphanIds = (await projectJobs(client, project.name)).filter((j) => !byName.has(serviceOf(j))).map((j) => j.id);
  } catch (err) {
    throw new CliError((err as Error).message, PLAN_EXIT.error);
  }
  const changes = plans.some((p) => planChanges(p.plan)) || orphanIds.length > 0;
  if (o.json) printJson({ order, services: plans, orphans: orphanIds });
  else {
    const lines = [`Start order: ${order.map((b) => b.join(' + ')).join(' -> ')}`, '', ...plans.flatMap(serviceLines)];
    for (const id of orphanIds) lines.push(`- job ${id}: no longer in the project (\`up --remove-orphans\` stops it)`);
    const n = plans.filter((p) => planChanges(p.plan)).length;
    lines.push('', changes ? `${n} service${n === 1 ? '' : 's'} would change${orphanIds.length > 0 ? `, ${orphanIds.length} orphan${orphanIds.length === 1 ? '' : 's'} would stop` : ''}.` : 'No changes.');
    process.stdout.write(lines.join('\n') + '\n');
  }
  process.exitCode = changes ? PLAN_EXIT.changes : PLAN_EXIT.noChange;
}
