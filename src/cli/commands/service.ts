import fs from 'node:fs/promises';
import { Command } from 'commander';
import YAML from 'yaml';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { printJson, table } from '../output.ts';
import { send } from './consul-http.ts';

type Json = Record<string, unknown>;

/** Call one of the Consul-compatible routes; a refusal becomes a CliError with the server's words. */
async function consul<T>(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: 30_000 });
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      const e = (JSON.parse(text) as { error?: { message?: string; details?: { path: string; message: string }[] } }).error;
      message = [e?.message ?? text, ...(e?.details ?? []).slice(1).map((d) => `  ${d.path}: ${d.message}`)].join('\n');
    } catch {
      // Not berth's error shape: show the text as it came.
    }
    throw new CliError(message);
  }
  return (text ? JSON.parse(text) : null) as T;
}

/** The worst status of a health entry's checks. */
function statusOf(entry: Json): string {
  const statuses = (entry.Checks as Json[]).map((c) => c.Status as string);
  return statuses.includes('critical') ? 'critical' : statuses.includes('warning') ? 'warning' : 'passing';
}

/** `berth service list|info|register|deregister`. */
// eslint-disable-next-line max-lines-per-function -- a command tree: one short action per subcommand
export function serviceCommand(): Command {
  const service = new Command('service').description('Services in the catalog: instances, health checks, external registrations');
  service
    .command('list')
    .description('List services with their tags and how many instances pass their checks')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const services = await consul<Record<string, string[]>>('GET', '/v1/catalog/services');
      const rows: (string | number)[][] = [];
      for (const [name, tags] of Object.entries(services)) {
        const entries = await consul<Json[]>('GET', `/v1/health/service/${encodeURIComponent(name)}`);
        rows.push([name, `${entries.filter((e) => statusOf(e) === 'passing').length}/${entries.length}`, tags.join(',')]);
      }
      if (opts.json) return printJson(rows.map(([name, healthy, tags]) => ({ name, healthy, tags: String(tags).split(',').filter(Boolean) })));
      if (rows.length === 0) return void process.stdout.write('No services registered. Add a `services` block to a group or task, or run: berth service register FILE\n');
      process.stdout.write(table(['Name', 'Passing', 'Tags'], rows) + '\n');
    });

  service
    .command('info')
    .description('Show the instances of a service with their checks and outputs')
    .argument('<name>', 'service name')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const entries = await consul<Json[]>('GET', `/v1/health/service/${encodeURIComponent(name)}`);
      if (opts.json) return printJson(entries);
      if (entries.length === 0) throw new CliError(`Cannot show service "${name}": it has no instances (see \`berth service list\`)`);
      const rows = entries.map((e) => {
        const s = e.Service as Json;
        return [s.ID as string, (e.Node as Json).Node as string, `${s.Address as string}:${s.Port as number}`, statusOf(e), ((s.Tags as string[]) ?? []).join(',')];
      });
      const addresses = await consul<{ service: string; address: string; ports: number[] }[]>('GET', '/v1/service-addresses').catch(() => []);
      const own = addresses.find((a) => a.service === name);
      const head = own ? [`Service address: ${own.address}${own.ports.length ? ` (ports ${own.ports.join(', ')})` : ' (no port: give its port label a `to` or `static`)'}, on agents with --service-addresses`, ''] : [];
      const lines = [...head, table(['ID', 'Node', 'Address', 'Status', 'Tags'], rows), '', 'Checks'];
      const checks = entries.flatMap((e) => (e.Checks as Json[]).filter((c) => c.ServiceID !== '').map((c) => [c.ServiceID as string, c.CheckID as string, c.Type as string, c.Status as string, String(c.Output).replace(/\s+/g, ' ').slice(0, 100)]));
      lines.push(checks.length ? table(['Service ID', 'Check', 'Type', 'Status', 'Output'], checks) : 'None');
      process.stdout.write(lines.join('\n') + '\n');
    });

  service
    .command('register')
    .description("Register an external service from a JSON or YAML file in Consul's format (Name, Port, Tags, Check: {TTL|HTTP|TCP})")
    .argument('<file>', 'the service definition')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        throw new CliError(`Cannot read ${file}: ${(err as Error).message}`, EXIT_USAGE);
      }
      let body: unknown;
      try {
        body = YAML.parse(text);
      } catch (err) {
        throw new CliError(`Cannot parse ${file}: ${(err as Error).message}`, EXIT_USAGE);
      }
      // Consul's service files wrap the definition in {"service": {...}}.
      if (body && typeof body === 'object' && 'service' in body) body = (body as { service: unknown }).service;
      await consul('PUT', '/v1/agent/service/register', body);
      const b = body as { ID?: string; Name?: string };
      if (opts.json) return printJson({ id: b.ID ?? b.Name, name: b.Name });
      process.stdout.write(`Registered service "${b.Name}" (id ${b.ID ?? b.Name})\n`);
    });

  service
    .command('deregister')
    .description('Remove an external service instance by its id')
    .argument('<id>', 'service instance id')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await consul('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
      if (opts.json) return printJson({ id, deregistered: true });
      process.stdout.write(`Deregistered service "${id}"\n`);
    });
  return service;
}
