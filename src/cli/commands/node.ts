import { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { fields, printJson, table, when } from '../output.ts';
import { allocTable } from './job.ts';
import { addDrainCommands } from './node-drain.ts';
import { resolveNode } from '../resolve.ts';

/** `berth node status`. */
export function nodeCommand(): Command {
  const node = new Command('node').description('Inspect the nodes (hosts running berth agent)');
  node
    .command('status')
    .description('List nodes, or show one with its allocations')
    .argument('[id]', 'node id, a unique prefix of it (4+ characters), or the node name')
    .option('--json', 'print JSON')
    .action(async (ref: string | undefined, opts: { json?: boolean }) => {
      const client = new BerthClient();
      if (!ref) {
        const { value: nodes } = await client.listNodes();
        if (opts.json) return printJson(nodes);
        if (nodes.length === 0) return void process.stdout.write('No nodes registered. Start one: berth agent --server URL\n');
        const rows = nodes.map((n) => [
          n.id.slice(0, 8),
          n.name,
          n.datacenter,
          n.address,
          n.status,
          n.eligible ? 'eligible' : 'ineligible',
          n.defaultDriver,
          Object.entries(n.drivers).filter(([, d]) => d?.detected && d.healthy).map(([k]) => k).join(','),
          `${n.resources.cpu} cpu, ${n.resources.memoryMiB} MiB`,
        ]);
        return void process.stdout.write(table(['ID', 'Name', 'DC', 'Address', 'Status', 'Eligibility', 'Default driver', 'Drivers', 'Resources'], rows) + '\n');
      }
      const n = await client.getNode((await resolveNode(client, ref)).id);
      const { value: allocs } = await client.nodeAllocations(n.id);
      if (opts.json) return printJson({ node: n, allocations: allocs });
      const lines = [
        fields([
          ['ID', n.id],
          ['Name', n.name],
          ['Datacenter', n.datacenter],
          ['Address', n.address],
          ['Status', n.status],
          ['Eligible', String(n.eligible)],
          ['Default driver', n.defaultDriver],
          ['Drivers', Object.entries(n.drivers).map(([k, d]) => `${k} ${d?.healthy ? 'healthy' : 'unhealthy'}${d?.version ? ` ${d.version}` : ''}`).join(', ')],
          ['Resources', `${n.resources.cpu} cpu, ${n.resources.memoryMiB} MiB`],
          ['Reserved for the host', reservedText(n.attributes)],
          ['HTTP address', n.httpAddr],
          ['Last heartbeat', when(n.lastHeartbeat)],
        ]),
        '',
        'Allocations',
        allocs.length ? allocTable(allocs) : 'None',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
  addDrainCommands(node);
  return node;
}

/** What the agent keeps for the host (`--reserve-cpu`, `--reserve-memory`), from the attributes it registers. */
function reservedText(attributes: Record<string, string>): string {
  const cpu = attributes['cpu.reserved'];
  const memory = attributes['memory.reservedMiB'];
  if (!cpu && !memory) return 'none';
  return `${cpu ?? 0} cpu, ${memory ?? 0} MiB`;
}
