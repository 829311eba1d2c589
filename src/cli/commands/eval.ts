import { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { Evaluation } from '../../model/index.ts';
import { fields, printJson, table, when } from '../output.ts';
import { resolveJobId } from '../resolve.ts';
import { shortfallText } from '../placement-text.ts';

/** `berth eval status|list`: what the scheduler did with each evaluation, and why. */
export function evalCommand(): Command {
  const cmd = new Command('eval').description('Inspect evaluations (scheduler passes): what was placed, what could not be, and why');
  cmd
    .command('list')
    .description('List evaluations, newest first')
    .option('--job <id>', 'only those of one job')
    .option('--json', 'print JSON')
    .action(async (opts: { job?: string; json?: boolean }) => {
      const client = new BerthClient();
      const evals = (opts.job ? await client.jobEvaluations(await resolveJobId(client, opts.job)) : await client.listEvaluations()).sort((a, b) => b.createTime - a.createTime);
      if (opts.json) return printJson(evals);
      if (evals.length === 0) return void process.stdout.write('No evaluations.\n');
      const rows = evals.map((e) => [e.id.slice(0, 8), e.jobId, e.priority, e.triggeredBy, e.status, placementSummary(e), when(e.createTime)]);
      process.stdout.write(table(['ID', 'Job', 'Priority', 'Triggered by', 'Status', 'Placement failures', 'Created'], rows) + '\n');
    });
  cmd
    .command('status')
    .description('Show one evaluation with its placement metrics')
    .argument('<id>', 'evaluation id or a unique prefix (4+ characters)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const e = await new BerthClient().getEvaluation(id);
      if (opts.json) return printJson(e);
      process.stdout.write(render(e) + '\n');
    });
  return cmd;
}

function placementSummary(e: Evaluation): string {
  const missing = e.failures.reduce((n, f) => n + f.missing, 0);
  return missing === 0 ? '-' : `${missing} unplaced`;
}

/** The evaluation, then per group that could not be placed: the reasons, the exhausted dimensions, the best scores. */
function render(e: Evaluation): string {
  const lines = [
    fields([
      ['ID', e.id],
      ['Job', e.jobId],
      ['Status', e.status],
      ['Description', e.statusDescription ?? ''],
      ['Triggered by', e.triggeredBy],
      ['Priority', e.priority],
      ['Created', when(e.createTime)],
      ['Wait until', e.waitUntil ? when(e.waitUntil) : undefined],
      ['Blocked eval', e.blockedEval],
      ['Previous eval', e.previousEval],
    ]),
  ];
  if (e.held?.length) lines.push('', 'Held: waiting for dependencies', ...e.held.map((w) => `  ${w.job} to be ${w.condition}: ${w.reason}`));
  for (const f of e.failures) {
    lines.push('', `Group "${f.group}": ${f.missing} not placed, ${f.nodesEvaluated} nodes evaluated`);
    const reasons = Object.entries(f.filtered).sort((a, b) => b[1] - a[1]);
    if (reasons.length > 0) lines.push(table(['Filtered by', 'Nodes'], reasons));
    const exhausted = Object.entries(f.exhausted ?? {});
    if (exhausted.length > 0) lines.push(`Exhausted: ${exhausted.map(([d, n]) => `${d} on ${n}`).join(', ')}`);
    for (const [d, short] of Object.entries(f.shortfall ?? {})) lines.push(`  ${d}: ${shortfallText(d, short)}`);
    if ((f.nodes ?? []).length > 0) lines.push(table(['Node', 'ID', 'Ruled out by'], f.nodes!.map((n) => [n.nodeName, n.nodeId.slice(0, 8), n.reason])));
    if ((f.nodesOmitted ?? 0) > 0) lines.push(`and ${f.nodesOmitted} more nodes ruled out (not listed)`);
    if ((f.topScores ?? []).length > 0) lines.push(`Top scores: ${f.topScores!.map((s) => `${s.nodeId.slice(0, 8)} ${s.score}`).join(', ')}`);
  }
  return lines.join('\n');
}
