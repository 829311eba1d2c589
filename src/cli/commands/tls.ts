import { isIP } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CertRole, PemPair } from '../../tls/index.ts';
import { CliError, UsageError } from '../errors.ts';
import { printJson } from '../output.ts';

/** The CA's files, as Nomad names its `nomad-agent-ca.pem`. */
const CA_BASE = 'berth-agent-ca';

function days(value: string): number {
  if (!/^[1-9]\d{0,5}$/.test(value)) throw new InvalidArgumentError(`expected a number of days from 1 to 999999, got "${value}"`);
  return Number(value);
}

function regionArg(value: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) throw new InvalidArgumentError(`expected a DNS label (lower-case letters, digits, -), got "${value}"`);
  return value;
}

/** A repeatable, comma-separated option whose every value passes `check`. */
function collect(check: (v: string) => string): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean).map(check)];
}

function dnsName(v: string): string {
  if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(v)) throw new InvalidArgumentError(`expected a DNS name, got "${v}"`);
  return v;
}

function ipAddress(v: string): string {
  if (!isIP(v)) throw new InvalidArgumentError(`expected an IP address, got "${v}"`);
  return v;
}

/** Write a pair, turning a refusal (a file already there, a directory not writable) into the CLI's error. */
async function save(dir: string, base: string, pair: PemPair, what: string): Promise<{ cert: string; key: string }> {
  const { writePair } = await import('../../tls/index.ts');
  try {
    return writePair(dir, base, pair);
  } catch (err) {
    throw new CliError(`Cannot save the ${what}: ${(err as Error).message}`);
  }
}

function report(files: { cert: string; key: string }, what: string, json: boolean | undefined): void {
  if (json) return printJson(files);
  process.stdout.write(`==> ${what} certificate saved to: ${files.cert}\n==> ${what} key saved to: ${files.key}\n`);
}

interface CertFlags {
  server?: boolean;
  client?: boolean;
  cli?: boolean;
  region: string;
  ca: string;
  key: string;
  additionalDnsname?: string[];
  additionalIpaddress?: string[];
  days: number;
  dir: string;
  json?: boolean;
}

/** `berth tls ca create`, `berth tls cert create`: the certificates of a cluster, as Nomad's `nomad tls`. */
export function tlsCommand(): Command {
  const tls = new Command('tls').description('Create the certificates for TLS between servers, agents and the CLI');
  const ca = new Command('ca').description('The certificate authority that signs the cluster certificates');
  ca.addCommand(
    new Command('create')
      .description(`Create a CA: ${CA_BASE}.pem and ${CA_BASE}-key.pem (mode 600; keep it safe, it signs every certificate)`)
      .option('--dir <dir>', 'where to write the files', '.')
      .option('--common-name <name>', "the CA certificate's common name (default: berth agent CA and a random suffix)")
      .addOption(new Option('--days <n>', 'days the CA is valid').argParser(days).default(1825))
      .option('--json', 'print the paths written as JSON')
      .action(async (opts: { dir: string; commonName?: string; days: number; json?: boolean }) => {
        const { createCa } = await import('../../tls/index.ts');
        const pair = await createCa({ commonName: opts.commonName, days: opts.days });
        report(await save(opts.dir, CA_BASE, pair, 'CA'), 'CA', opts.json);
      }),
  );
  const cert = new Command('cert').description('Certificates for servers, agents and the CLI, signed by the CA');
  cert.addCommand(
    new Command('create')
      .description('Create a certificate and key signed by the CA: <region>-server-berth.pem for a server (names server.<region>.berth, localhost, 127.0.0.1), -client- for an agent (client.<region>.berth), -cli- for the CLI (cli.<region>.berth)')
      .option('--server', 'a server certificate')
      .option('--client', "an agent's certificate")
      .option('--cli', "the CLI's certificate")
      .addOption(new Option('--region <region>', 'the region in the role name').argParser(regionArg).default('global'))
      .option('--ca <file>', 'the CA certificate', `${CA_BASE}.pem`)
      .option('--key <file>', "the CA's key", `${CA_BASE}-key.pem`)
      .option('--additional-dnsname <name>', 'another DNS name the certificate is for; repeat or comma-separate', collect(dnsName))
      .option('--additional-ipaddress <ip>', 'another IP address the certificate is for; repeat or comma-separate', collect(ipAddress))
      .addOption(new Option('--days <n>', 'days the certificate is valid').argParser(days).default(365))
      .option('--dir <dir>', 'where to write the files', '.')
      .option('--json', 'print the paths written as JSON')
      .action(async (opts: CertFlags) => {
        const roles = (['server', 'client', 'cli'] as const).filter((r) => opts[r]);
        if (roles.length !== 1) throw new UsageError(`give exactly one of --server, --client, --cli${roles.length ? ` (got --${roles.join(', --')})` : ''}`);
        const role: CertRole = roles[0];
        const { createCert, readPem } = await import('../../tls/index.ts');
        let caPair: PemPair;
        try {
          caPair = { cert: readPem(opts.ca, 'CA certificate'), key: readPem(opts.key, 'CA key') };
        } catch (err) {
          throw new CliError(`Cannot create the ${role} certificate: ${(err as Error).message} (create a CA with \`berth tls ca create\`, or pass --ca and --key)`);
        }
        let pair: PemPair;
        try {
          pair = await createCert(caPair, { role, region: opts.region, dnsNames: opts.additionalDnsname, ipAddresses: opts.additionalIpaddress, days: opts.days });
        } catch (err) {
          throw new CliError(`Cannot create the ${role} certificate with the CA ${opts.ca} and key ${opts.key}: ${(err as Error).message}`);
        }
        report(await save(opts.dir, `${opts.region}-${role}-berth`, pair, `${role} certificate`), role === 'cli' ? 'CLI' : role === 'client' ? 'Agent' : 'Server', opts.json);
      }),
  );
  tls.addCommand(ca);
  tls.addCommand(cert);
  return tls;
}
