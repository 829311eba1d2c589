import { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { printJson, table, when } from '../output.ts';

/** `berth server members`: the live servers and which one leads. */
export function serverMembersCommand(): Command {
  return new Command('members')
    .description('List the live servers and which one leads')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const servers = await new BerthClient().listServers();
      if (opts.json) return printJson(servers);
      if (servers.length === 0) return void process.stdout.write('No servers listed (the server answering is too old to know of others)\n');
      const rows = servers.map((s) => [s.name, s.url, s.address, s.leader ? 'leader' : 'follower', when(Date.parse(s.startedAt))]);
      process.stdout.write(table(['Name', 'URL', 'Address', 'Role', 'Started'], rows) + '\n');
    });
}
