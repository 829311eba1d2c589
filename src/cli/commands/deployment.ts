import { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { DeploymentGroupState } from '../../model/index.ts';
import { CliError } from '../errors.ts';
import { fields, printJson, table, when } from '../output.ts';
import { renderDeployment, watchDeployment } from '../deployment-progress.ts';
import { resolveJobId } from '../resolve.ts';

async function newestOf(client: BerthClient, job: string | undefined): Promise<string> {
  if (!job) throw new CliError('Cannot show a deployment: give its id or --job JOB');
  const d = await client.jobDeployment(await resolveJobId(client, job));
  if (!d) throw new CliError(`Cannot show the deployment of job "${job}": it has none (its groups have no update block)`);
  return d.id;
}

/** `berth deployment list|status|promote|fail|pause|resume`. */
// eslint-disable-next-line max-lines-per-function -- a command tree: one short action per subcommand
export function deploymentCommand(): Command {
  const cmd = new Command('deployment').description('Follow and steer the rollouts of job versions');

  cmd
    .command('list')
    .description('List deployments, newest first')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const all = await new BerthClient().listDeployments();
      if (opts.json) return printJson(all);
      const rows = all.map((d) => [d.id.slice(0, 8), d.jobId, d.jobVersion, d.status, d.statusDescription, when(d.createTime)]);
      process.stdout.write(table(['ID', 'Job', 'Version', 'Status', 'Description', 'Created'], rows) + '\n');
    });

  cmd
    .command('status')
    .description("Show a deployment (by id or prefix, or a job's newest with --job); --watch follows it: exit 0 successful, 1 failed")
    .argument('[id]', 'deployment id or prefix')
    .option('--job <job>', "the job's newest deployment")
    .option('--watch', 'follow until it ends')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, opts: { job?: string; watch?: boolean; json?: boolean }) => {
      const client = new BerthClient();
      const target = id ?? (await newestOf(client, opts.job));
      if (opts.watch) {
        const outcome = await watchDeployment(client, target);
        if (!outcome.ok) throw new CliError(outcome.reason);
        return;
      }
      const { value: d } = await client.getDeployment(target);
      if (opts.json) return printJson(d);
      const lines = [
        fields([
          ['ID', d.id],
          ['Job', `${d.jobId} v${d.jobVersion}`],
          ['Status', d.status],
          ['Description', d.statusDescription],
          ['Created', when(d.createTime)],
        ]),
        '',
        table(
          ['Group', 'Desired', 'Placed', 'Healthy', 'Unhealthy', 'Canaries', 'Promoted', 'Progress deadline'],
          Object.entries(d.groups).map(([g, s]: [string, DeploymentGroupState]) => [g, s.desired, s.placed, s.healthy, s.unhealthy, `${s.canaries.length}/${s.desiredCanaries}`, s.promoted ? 'yes' : 'no', when(s.progressDeadline)]),
        ),
        '',
        renderDeployment(d),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });

  for (const [action, what] of [
    ['promote', 'Promote the canaries: the rest of the allocations are replaced'],
    ['fail', 'Mark a deployment failed (auto_revert then rolls back)'],
    ['pause', 'Pause a deployment: nothing more is replaced until resumed'],
    ['resume', 'Resume a paused deployment'],
  ] as const) {
    cmd
      .command(action)
      .description(what)
      .argument('<id>', 'deployment id or prefix')
      .option('--group <group...>', 'promote: only these groups')
      .option('--json', 'print the deployment as JSON')
      .action(async (id: string, opts: { group?: string[]; json?: boolean }) => {
        const result = await new BerthClient().deploymentAction(id, action, opts.group);
        if (opts.json) return printJson(result);
        process.stdout.write(`Deployment ${result.deployment.id.slice(0, 8)} ${action === 'fail' ? 'marked failed' : `${action}d`}: ${result.deployment.statusDescription}\n`);
      });
  }
  return cmd;
}
