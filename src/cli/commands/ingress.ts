import { Command } from 'commander';
import { BerthClient, type IngressRouteEntry, type IngressStatus } from '../../api/index.ts';
import { printJson, table } from '../output.ts';

/** What a route matches, in words: `web.example.com/api`, `*\/`, `tcp :9000`. */
function matchOf(r: IngressRouteEntry): string {
  return r.kind === 'tcp' ? `tcp :${r.port}` : `${r.host ?? '*'}${r.path ?? '/'}`;
}

/** The status as text: the ingress nodes, then each route with its instances and their health. */
export function ingressText(s: IngressStatus): string {
  const out: string[] = [];
  out.push(
    s.nodes.length
      ? table(['Ingress node', 'Addresses', 'Proxy'], s.nodes.map((n) => [n.name, n.addresses.join(','), n.proxy]))
      : 'No ingress nodes: start an agent with --ingress HOST:PORT.',
  );
  out.push('');
  if (s.routes.length === 0) {
    out.push('No ingress routes: add `ingress: [{host, path}]` or `ingress: [{port}]` to a service.');
    return out.join('\n');
  }
  const byService = new Map(s.services.map((svc) => [svc.service, svc.instances]));
  const rows = s.routes.map((r) => {
    const instances = byService.get(r.service) ?? [];
    const passing = instances.filter((i) => i.status === 'passing').length;
    return [matchOf(r), r.service, r.jobId, `${passing}/${instances.length}`];
  });
  out.push(table(['Route', 'Service', 'Job', 'Passing'], rows), '');
  const instanceRows = s.services.flatMap((svc) => svc.instances.map((i) => [svc.service, i.id, i.nodeName, `${i.address}:${i.port}`, i.status]));
  out.push(instanceRows.length ? table(['Service', 'Instance', 'Node', 'Address', 'Health'], instanceRows) : 'No instances of the routed services yet.');
  return out.join('\n');
}

/** `berth ingress status [--json]`. */
export function ingressCommand(): Command {
  const ingress = new Command('ingress').description('The ingress: outside traffic routed by Host and path (or TCP port) to healthy instances');
  ingress
    .command('status')
    .description('List the ingress nodes, the routes, and the instances behind them with their health')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { value } = await new BerthClient().ingressStatus();
      if (opts.json) return printJson(value);
      process.stdout.write(`${ingressText(value)}\n`);
    });
  return ingress;
}
