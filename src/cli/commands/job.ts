import { Command, InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { Allocation } from '../../model/index.ts';
import { CliError } from '../errors.ts';
import { fields, printJson, table, when } from '../output.ts';
import { watchRollout, watchStop } from '../progress.ts';
import { describeFailures } from '../placement-text.ts';
import { addPlanCommand, readJobFile } from './job-plan.ts';
import { addHistoryCommands } from './job-history.ts';
import { addJobOpsCommands } from './job-ops.ts';
import { watchDeployment } from '../deployment-progress.ts';
import { addPeriodicCommands } from './job-periodic.ts';
import { addDependencyCommands } from './job-deps.ts';
import { dependencyLines } from '../deps-text.ts';
import { addSpecCommands } from './job-spec.ts';
import { resolveJobId } from '../resolve.ts';

/** `berth job run|status|stop`. */
// eslint-disable-next-line max-lines-per-function -- a command tree: one short action per subcommand
export function jobCommand(): Command {
  const job = new Command('job').description('Run, inspect and stop jobs');
  addPlanCommand(job);
  addHistoryCommands(job);
  addJobOpsCommands(job);

  job
    .command('run')
    .description('Register a job from a YAML or JSON file and follow it until its allocations run')
    .argument('<file>', 'job spec (YAML or JSON)')
    .option('--detach', 'return once the job is registered, without following the rollout')
    .option('--json', 'print the registration result as JSON')
    .option('--check-index <n>', 'register only if the job is still at this modify index (from `berth job plan`; 0: only if new)', (v: string) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected a non-negative integer, got "${v}"`);
      return Number(v);
    })
    .action(async (file: string, opts: { detach?: boolean; json?: boolean; checkIndex?: number }) => {
      // Validate here first: the user sees every problem at once, and nothing reaches the server.
      const { text, format } = await readJobFile(file);
      const client = new BerthClient();
      const result = await client.registerJob(text, format, { checkIndex: opts.checkIndex });
      if (opts.json && opts.detach) return printJson(result);
      if (!opts.json) process.stdout.write(`Job "${result.jobId}" registered: version ${result.version}${result.changed ? '' : ' (unchanged)'}, evaluation ${result.evalId.slice(0, 8)}\n`);
      for (const w of result.warnings ?? []) process.stderr.write(`Warning: ${file}: ${w.path}: ${w.message}\n`);
      if (opts.detach) return;
      const registered = await client.getJob(result.jobId);
      // A version with an update strategy is followed through its deployment: health, not just running.
      const outcome = result.deploymentId ? await watchDeployment(client, result.deploymentId) : await watchRollout(client, { job: registered, evalId: result.evalId });
      if (opts.json) printJson({ ...result, outcome });
      if (!outcome.ok) throw new CliError(outcome.reason);
      if (!opts.json) process.stdout.write(`Job "${result.jobId}" ${registered.type === 'batch' ? 'completed' : 'is running'}. See \`berth job status ${result.jobId}\`\n`);
    });

  job
    .command('status')
    .description('List jobs, or show one job with its allocations')
    .argument('[id]', 'job id or a unique prefix')
    .option('--json', 'print JSON')
    .option('--all-allocs', 'include stopped allocations of older versions')
    .action(async (ref: string | undefined, opts: { json?: boolean; allAllocs?: boolean }) => {
      const client = new BerthClient();
      if (!ref) {
        const { value: jobs } = await client.listJobs();
        if (opts.json) return printJson(jobs);
        if (jobs.length === 0) return void process.stdout.write('No jobs registered. Run one: berth job run examples/web.yaml\n');
        const rows = jobs.map((j) => {
          const s = Object.values(j.summary);
          const running = s.reduce((n, g) => n + g.running, 0);
          const desired = s.reduce((n, g) => n + g.desired, 0);
          return [j.id, j.type, j.priority, j.status, j.version, `${running}/${desired}`, when(j.submitTime)];
        });
        return void process.stdout.write(table(['ID', 'Type', 'Priority', 'Status', 'Version', 'Running', 'Submitted'], rows) + '\n');
      }
      const id = await resolveJobId(client, ref);
      const [jobSpec, summary, { value: allocs }] = await Promise.all([client.getJob(id), client.jobSummary(id), client.jobAllocations(id)]);
      const shown = opts.allAllocs ? allocs : allocs.filter((a) => a.desiredStatus === 'run' || a.clientStatus === 'running');
      if (opts.json) return printJson({ job: jobSpec, summary: summary.value, allocations: shown });
      const s = summary.value;
      const lines = [
        fields([
          ['ID', jobSpec.id],
          ['Type', jobSpec.type],
          ['Priority', jobSpec.priority],
          ['Datacenters', jobSpec.datacenters.join(',')],
          ['Version', jobSpec.version],
          ['Status', s.status + (jobSpec.stop ? ' (stopped)' : '')],
          ['Submitted', when(jobSpec.submitTime)],
        ]),
        '',
        'Summary',
        table(
          ['Group', 'Desired', 'Pending', 'Running', 'Complete', 'Failed', 'Lost'],
          Object.entries(s.groups).map(([g, c]) => [g, c.desired, c.pending, c.running, c.complete, c.failed, c.lost]),
        ),
      ];
      const failures = s.latestEval?.failures ?? [];
      if (failures.length > 0) lines.push('', 'Placement failures', describeFailures(failures));
      lines.push(...dependencyLines(s));
      lines.push('', 'Allocations', shown.length ? allocTable(shown) : 'No allocations placed');
      process.stdout.write(lines.join('\n') + '\n');
    });

  job
    .command('stop')
    .description('Stop a job: its allocations are stopped and their containers removed')
    .argument('<id>', 'job id or a unique prefix')
    .option('--purge', 'also forget the job and its history')
    .option('--detach', 'return once the stop is registered')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, opts: { purge?: boolean; detach?: boolean; json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const result = await client.stopJob(id, opts.purge ?? false);
      if (!opts.json) process.stdout.write(`Job "${id}" ${opts.purge ? 'stopped and purged' : 'stopped'}, evaluation ${result.evalId.slice(0, 8)}\n`);
      if (!opts.detach) await watchStop(client, id);
      if (opts.json) printJson(result);
    });

  addPeriodicCommands(job);
  addDependencyCommands(job);
  addSpecCommands(job);
  return job;
}

/** Allocations as `job status` and `node status` show them. */
export function allocTable(allocs: Allocation[]): string {
  const rows = [...allocs]
    .sort((a, b) => a.group.localeCompare(b.group) || a.index - b.index || b.createTime - a.createTime)
    .map((a) => [
      a.id.slice(0, 8),
      a.nodeId.slice(0, 8),
      a.group,
      a.index,
      a.jobVersion,
      a.desiredStatus,
      a.clientStatus,
      a.ports.map((p) => `${p.label}=${p.value}${p.to !== p.value ? `->${p.to}` : ''}`).join(',') || '-',
      when(a.createTime),
    ]);
  return table(['ID', 'Node', 'Group', 'Index', 'Version', 'Desired', 'Status', 'Ports', 'Created'], rows);
}
