/**
 * The DNS flags of `berth dev` and `berth server`, and the discovery settings they make.
 * DNS is served by default on 127.0.0.1:7453; when that default port is taken the server starts
 * without DNS (and says so), while an address given with --dns-addr must be had.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ServerOptions } from '../../server/index.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';

/** The flags' values. */
export interface DnsFlags {
  dnsAddr?: { host: string; port: number };
  dnsDomain: string;
  dnsConsulDomain?: boolean;
  dnsTtl: number;
  dnsRecursor?: string[];
  dns: boolean;
  dnsBridge?: string;
  dnsWorkers: number;
}

function ttl(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new InvalidArgumentError(`expected seconds from 0 to 86400, got "${value}"`);
  return n;
}

function workers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError(`expected a number of processes from 0 to 64, got "${value}"`);
  return n;
}

/** Add the DNS flags (after --dns-addr, which the command declares). */
export function addDnsFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--dns-domain <domain>', 'the domain DNS answers for').env('BERTH_DNS_DOMAIN').default('berth'))
    .addOption(new Option('--dns-consul-domain', 'answer consul. names too, for drop-in use').env('BERTH_DNS_CONSUL_DOMAIN'))
    .addOption(new Option('--dns-ttl <seconds>', 'TTL of DNS answers').env('BERTH_DNS_TTL').argParser(ttl).default(0))
    .addOption(new Option('--dns-recursor <host:port...>', 'forward other names to these resolvers (default: REFUSED)').env('BERTH_DNS_RECURSOR'))
    .addOption(new Option('--dns-bridge <ip|auto>', "also serve DNS on <ip>:53 for containers, and point the docker driver's containers at it (auto: the docker0 bridge's address)").env('BERTH_DNS_BRIDGE'))
    .addOption(new Option('--dns-workers <n>', 'serve DNS from n worker processes to use more cores (0: in the server process)').env('BERTH_DNS_WORKERS').argParser(workers).default(0))
    .addOption(new Option('--no-dns', 'do not serve DNS'));
}

/**
 * The docker0 bridge's IPv4 address on this host, if it has one: containers reach the host there.
 * Node lists only interfaces that are up and running, and docker0 has no carrier while no
 * container runs, so `ip` is asked when Node does not see it.
 */
export function dockerBridgeAddress(): string | undefined {
  const seen = os.networkInterfaces().docker0?.find((a) => a.family === 'IPv4')?.address;
  if (seen) return seen;
  try {
    const out = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', 'docker0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/** The address `--dns-bridge` asks for, `auto` resolved; undefined when not asked or not found. */
export function bridgeAddress(opts: Pick<DnsFlags, 'dnsBridge' | 'dns'>): string | undefined {
  if (!opts.dns || opts.dnsBridge === undefined) return undefined;
  return opts.dnsBridge === 'auto' ? dockerBridgeAddress() : opts.dnsBridge;
}

/** Discovery settings from the flags. */
export function discoveryOptions(opts: DnsFlags, nodeName: string | undefined, datacenter: string | undefined): ServerOptions['discovery'] {
  const base = { nodeName, datacenter };
  if (!opts.dns) return base;
  const bridge = bridgeAddress(opts);
  return {
    ...base,
    dns: {
      hosts: [opts.dnsAddr?.host ?? '127.0.0.1'],
      port: opts.dnsAddr?.port ?? 7453,
      optional: opts.dnsAddr === undefined,
      ...(bridge ? { bridge } : {}),
      domain: opts.dnsDomain,
      consulDomain: opts.dnsConsulDomain === true,
      ttl: opts.dnsTtl,
      recursors: opts.dnsRecursor,
      workers: opts.dnsWorkers,
    },
  };
}

/**
 * `berth agent --task-dns`: repeated, or comma-separated (as BERTH_TASK_DNS). IP addresses only:
 * Docker sends a container's DNS to port 53 of the servers it is given and takes no port.
 */
export function collectTaskDns(value: string, previous: string[] | undefined): string[] {
  const servers = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const s of servers) {
    if (s !== 'auto' && !net.isIP(s)) throw new InvalidArgumentError(`expected an IP address or auto, got "${s}" (containers ask port 53 of it: serve berth's DNS there with \`berth server --dns-bridge\`)`);
  }
  return [...(previous ?? []), ...servers];
}

/** The DNS servers `--task-dns` names, `auto` resolved to this host's docker0 address; undefined when not given. */
export function taskDnsServers(values: string[] | undefined): string[] | undefined {
  if (!values?.length) return undefined;
  return [
    ...new Set(
      values.map((v) => {
        if (v !== 'auto') return v;
        const bridge = dockerBridgeAddress();
        if (!bridge) throw new CliError('Cannot use --task-dns auto: this host has no docker0 bridge address (give the IP where berth\'s DNS answers on port 53)', EXIT_USAGE);
        return bridge;
      }),
    ),
  ];
}

