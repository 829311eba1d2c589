import type { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { parseDuration } from '../../jobspec/index.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { printJson } from '../output.ts';
import { resolveNode } from '../resolve.ts';

/** Adds `node drain` and `node eligibility` to the `node` command. */
export function addDrainCommands(node: Command): void {
  node
    .command('drain')
    .description('Move the allocations off a node (it takes no new ones), or cancel a drain with --disable')
    .argument('<id>', 'node id, a unique prefix of it, or the node name')
    .option('--deadline <duration>', 'stop what has not moved after this long (0: no deadline)', '1h')
    .option('--ignore-system', 'leave system jobs running on the node')
    .option('--disable', 'cancel the drain and make the node eligible again')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { deadline: string; ignoreSystem?: boolean; disable?: boolean; json?: boolean }) => {
      const deadline = parseDuration(opts.deadline);
      if (!deadline.ok) throw new CliError(`Cannot drain node ${id}: --deadline ${deadline.error}`, EXIT_USAGE);
      const client = new BerthClient();
      const { node } = await client.drainNode((await resolveNode(client, id)).id, { enable: !opts.disable, deadlineMs: deadline.value, ignoreSystem: opts.ignoreSystem ?? false });
      if (opts.json) return printJson(node);
      if (opts.disable) return void process.stdout.write(`Node ${node.name}: drain canceled; eligible for new allocations\n`);
      const until = node.drain && node.drain.deadline > 0 ? ` (deadline ${new Date(node.drain.deadline).toISOString()})` : '';
      process.stdout.write(`Node ${node.name}: draining${until}; follow with: berth node status ${node.id}\n`);
    });

  node
    .command('eligibility')
    .description('Let a node take new allocations (--enable) or not (--disable); what runs there stays')
    .argument('<id>', 'node id, a unique prefix of it, or the node name')
    .option('--enable', 'take new allocations')
    .option('--disable', 'take no new allocations')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { enable?: boolean; disable?: boolean; json?: boolean }) => {
      if (opts.enable === opts.disable) throw new CliError('Cannot set node eligibility: give exactly one of --enable or --disable', EXIT_USAGE);
      const client = new BerthClient();
      const { node } = await client.setNodeEligibility((await resolveNode(client, id)).id, opts.enable === true);
      if (opts.json) return printJson(node);
      process.stdout.write(`Node ${node.name}: ${node.eligible ? 'eligible' : 'ineligible'}\n`);
    });
}
