import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Server, ServerOptions, StateBackend } from '../../server/index.ts';
import type * as ServerLayer from '../../server/index.ts';
import type * as AgentLayer from '../../agent/index.ts';
import { parseCpu, parseDuration, parseSize } from '../../jobspec/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { DriverName } from '../../model/index.ts';
import { applyConfigFile } from '../config.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { addDnsFlags, bridgeAddress, collectTaskDns, discoveryOptions, taskDnsServers, type DnsFlags } from './dns-flags.ts';
import { serverMembersCommand } from './server-members.ts';
import { addBrowserFlags, browserOptions, type BrowserFlags } from './browser-flags.ts';
import { securityWarning } from '../security-warning.ts';
import { addDockerTlsFlags, addEtcdTlsFlags, addListenerTlsFlags, agentTransport, dockerTls, etcdTls, listenerTls, serverPeers, type TlsFlags } from './tls-flags.ts';
import type { Transport } from '../../api/index.ts';

/** `host:port`, as the address flags take it. */
export interface HostPort {
  host: string;
  port: number;
}

function hostPort(value: string): HostPort {
  const m = /^(.*):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) throw new InvalidArgumentError(`expected host:port (e.g. 127.0.0.1:7460), got "${value}"`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** `--server` may be repeated, and BERTH_SERVER may list several, comma-separated. */
function collectServers(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/** `--etcd` may be repeated, and each value (or BERTH_ETCD) may list several client URLs, comma-separated. */
function collectEtcd(value: string, previous: string[] | undefined): string[] {
  const urls = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const url of urls) {
    if (!/^https?:\/\/[^/:]+(:\d{1,5})?\/?$/.test(url)) throw new InvalidArgumentError(`expected etcd client URLs such as http://10.0.0.1:2379, got "${url}"`);
  }
  return [...(previous ?? []), ...urls];
}

function urlArg(value: string): string {
  if (!/^https?:\/\/[^/]+\/?$/.test(value)) throw new InvalidArgumentError(`expected a URL such as http://10.0.0.1:7460, got "${value}"`);
  return value.replace(/\/$/, '');
}

/** `--log-forward`, repeatable (BERTH_LOG_FORWARD may list several, comma-separated); checked by `checkLogForward`. */
function collectLogForward(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/** `--log-forward` (repeatable) and `--log-forward-buffer`. */
function addLogForwardFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-forward <url>', "forward task output to syslog://HOST:514 (RFC 5424 over UDP), syslog+tcp://HOST:601 (over TCP) or http(s)://[USER:PASSWORD@]HOST/PATH (JSON lines, basic auth); repeat for several; each a bounded buffer, never blocking the task").env('BERTH_LOG_FORWARD').argParser(collectLogForward))
    .addOption(new Option('--log-forward-buffer <lines>', 'lines each --log-forward target holds while its receiver is slow or away; past it the oldest are dropped and counted').env('BERTH_LOG_FORWARD_BUFFER').argParser(positiveInt).default(10_000));
}

/**
 * Each `--log-forward` URL checked with the agent's own parser (the agent layer loads only for the
 * daemons) before anything starts: a bad one is a usage error (exit 2) naming the flag, the value
 * and the forms that work.
 */
async function checkLogForward(values: string[] | undefined): Promise<void> {
  if (!values?.length) return;
  const { parseLogTarget } = await agentLayer();
  for (const value of values) {
    const parsed = parseLogTarget(value);
    if (!parsed.ok) throw new CliError(`Cannot start: --log-forward ${parsed.error}`, EXIT_USAGE);
  }
}

function collectMeta(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const m = /^([A-Za-z0-9_.-]+)=(.*)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected key=value with a key of letters, digits, _ . -, got "${value}"`);
  return { ...previous, [m[1]]: m[2] };
}

function positiveInt(value: string): number {
  if (!/^[1-9]\d{0,6}$/.test(value)) throw new InvalidArgumentError(`expected a whole number from 1 to 9999999, got "${value}"`);
  return Number(value);
}

/** `--reserve-cpu`: cores (`0.5`) or millicores (`500m`), as a job's cpu; 0 reserves none. */
function reserveCpu(value: string): number {
  if (/^\s*0+(\.0*)?m?\s*$/.test(value)) return 0;
  const parsed = parseCpu(value);
  if (!parsed.ok) throw new InvalidArgumentError(`${parsed.error} (e.g. 0.5 or 500m)`);
  return parsed.value;
}

/** `--reserve-memory`: a size with a binary unit (`512Mi`, `1Gi`) or MiB, as a job's memory; 0 reserves none. */
function reserveMemory(value: string): number {
  if (/^\s*0+\s*([KMGT]i?B?)?\s*$/i.test(value)) return 0;
  const parsed = parseSize(value);
  if (!parsed.ok) throw new InvalidArgumentError(`${parsed.error} (e.g. 512Mi or 1Gi)`);
  return parsed.value;
}

/** `--port-range 20000-32000`: the host ports dynamic ports are picked from. */
function portRange(value: string): { min: number; max: number } {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(value.trim());
  const [min, max] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || min < 1 || max > 65535 || min > max) throw new InvalidArgumentError(`expected MIN-MAX with 1 <= MIN <= MAX <= 65535 (e.g. 20000-32000), got "${value}"`);
  return { min, max };
}

function driverChoice(value: string): DriverName | 'auto' {
  if (value !== 'docker' && value !== 'process' && value !== 'auto') throw new InvalidArgumentError(`expected docker, process or auto, got "${value}"`);
  return value;
}

function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--config <file>', 'read settings from a YAML file (flags and BERTH_* variables win)').env('BERTH_CONFIG'))
    .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error or silent').env('BERTH_LOG_LEVEL').default('info').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .addOption(new Option('--log-format <format>', 'json, or text for people (default: text on a terminal)').env('BERTH_LOG_FORMAT').choices(['json', 'text']))
    .hook('preAction', (thisCommand) => applyConfigFile(thisCommand));
}

interface RunOpts extends BrowserFlags, TlsFlags {
  dataDir: string;
  /** `--log-forward` URLs and each one's buffer (agent and dev). */
  logForward?: string[];
  logForwardBuffer?: number;
  httpAddr: HostPort;
  dnsAddr?: HostPort;
  driver?: DriverName | 'auto';
  logLevel: string;
  logFormat?: 'json' | 'text';
  server?: string[];
  nodeName?: string;
  datacenter?: string;
  address?: string;
  dockerHost?: string;
  run?: string[];
  serviceAddresses?: boolean;
  heartbeatTtl?: string;
  heartbeatGrace?: string;
  schedulerAlgorithm?: 'binpack' | 'spread';
  runHistory?: number;
  gcInterval?: number;
  jobGcThreshold?: number;
  evalGcThreshold?: number;
  batchEvalGcThreshold?: number;
  deploymentGcThreshold?: number;
  nodeGcThreshold?: number;
  jobVersionsKept?: number;
  historyRevisions?: number;
  serviceAddressRange?: string;
  etcd?: string[];
  name?: string;
  advertiseUrl?: string;
  acl?: boolean;
  keyringKek?: string;
}

/** The agent's flags beyond the common ones. */
interface AgentOpts extends Omit<RunOpts, 'httpAddr'> {
  httpAddr?: HostPort;
  nodeClass?: string;
  meta?: Record<string, string>;
  taskDns?: string[];
  serviceAddresses?: boolean;
  reserveCpu?: number;
  reserveMemory?: number;
  portRange: { min: number; max: number };
  ingress?: HostPort[];
  ingressProxy?: 'builtin' | 'haproxy';
  ingressRequestTimeout?: number;
  ingressIdleTimeout?: number;
}

/** `--ingress` may be repeated, and each value (or BERTH_INGRESS) may list several, comma-separated; each address once. */
function collectIngress(value: string, previous: HostPort[] | undefined): HostPort[] {
  const out = [...(previous ?? [])];
  for (const one of value.split(',').map((v) => v.trim()).filter(Boolean)) {
    const address = hostPort(one);
    if (out.some((a) => a.host === address.host && a.port === address.port)) throw new InvalidArgumentError(`${one} is given twice; give each address once`);
    out.push(address);
  }
  return out;
}

/** The agent's ingress settings from its flags; none without `--ingress`. */
function ingressSettings(opts: AgentOpts): AgentLayer.IngressSettings | undefined {
  if (!opts.ingress?.length) {
    const flag = opts.ingressProxy && opts.ingressProxy !== 'builtin' ? '--ingress-proxy' : opts.ingressRequestTimeout !== undefined ? '--ingress-request-timeout' : opts.ingressIdleTimeout !== undefined ? '--ingress-idle-timeout' : undefined;
    if (flag) throw new CliError(`Cannot start the agent: ${flag} needs --ingress HOST:PORT (the address that takes outside traffic)`, EXIT_USAGE);
    return undefined;
  }
  return { addresses: opts.ingress, proxy: opts.ingressProxy ?? 'builtin', requestTimeoutMs: opts.ingressRequestTimeout, idleTimeoutMs: opts.ingressIdleTimeout };
}

/** A timeout flag: a duration above zero, in ms. */
function timeoutMs(value: string): number {
  const ms = durationMs(value);
  if (ms <= 0) throw new InvalidArgumentError(`expected a duration above zero, such as 30s or 2m, got "${value}"`);
  return ms;
}

// The server, the agent and the logger are imported inside the actions: `berth server members`
// (a client) and the parsing of flags need none of fastify, the drivers, SQLite or etcd.
const serverLayer = (): Promise<typeof ServerLayer> => import('../../server/index.ts');
const agentLayer = (): Promise<typeof AgentLayer> => import('../../agent/index.ts');
const newLogger = async (opts: Pick<RunOpts, 'logLevel' | 'logFormat'>): Promise<Logger> => (await import('../../lib/index.ts')).createLogger({ level: opts.logLevel, format: opts.logFormat });

/** `berth dev`, `berth server`, `berth agent`: the long-running processes. */
export function daemonCommands(): Command[] {
  const [dev, server, agent] = [devCommand(), serverCommand(), agentCommand()];
  addListenerTlsFlags(dev, 'the API and the dev agent');
  addDockerTlsFlags(dev);
  addEtcdTlsFlags(addListenerTlsFlags(server, 'the API'));
  // The agent's calls to the servers take --ca-cert, --client-cert, --client-key like every client command (cli/client-tls.ts).
  addDockerTlsFlags(addListenerTlsFlags(agent, "the agent's own endpoint (logs, exec), also presented to the servers"));
  return [addLogForwardFlags(addBrowserFlags(addDnsFlags(dev))), addBrowserFlags(addDnsFlags(server)), addLogForwardFlags(agent)];
}

/** `berth dev`: a server and an agent in one process. */
function devCommand(): Command {
  return addGcFlags(common(new Command('dev')))
    .description('Server and agent in one process on embedded SQLite: the zero-configuration start')
    .addOption(new Option('--data-dir <dir>', 'where state and task files live').env('BERTH_DATA_DIR').default('.berth/dev'))
    .addOption(new Option('--http-addr <host:port>', 'HTTP API and UI address').env('BERTH_HTTP_ADDR').argParser(hostPort).default(hostPort('127.0.0.1:7460'), '127.0.0.1:7460'))
    .addOption(new Option('--dns-addr <host:port>', 'DNS address (UDP and TCP)').env('BERTH_DNS_ADDR').argParser(hostPort).default(undefined, '127.0.0.1:7453'))
    .addOption(new Option('--driver <driver>', 'driver for tasks that name none: docker, process or auto').env('BERTH_DRIVER').argParser(driverChoice).default('auto'))
    .addOption(new Option('--docker-host <addr>', 'Docker engine address').env('DOCKER_HOST'))
    .addOption(new Option('--run <file...>', 'job files to run once the node is ready'))
    .addOption(aclOption())
    .addOption(keyringKekOption())
    .addOption(serviceAddressesOption())
    .action(async (opts: RunOpts & DnsFlags) => {
      if (opts.serviceAddresses && bridgeAddress(opts) !== undefined) {
        throw new CliError(
          "Cannot start berth dev: --service-addresses and --dns-bridge both serve DNS on the docker bridge's port 53; drop --dns-bridge (with --service-addresses the agent's DNS there answers NAME.service.berth with the service's address and relays other names to this host's resolvers)",
          EXIT_USAGE,
        );
      }
      await checkLogForward(opts.logForward);
      const logger = await newLogger(opts);
      // External services registered with the dev server live on its one node.
      opts.nodeName ??= 'dev';
      const server = await startServer(opts, logger);
      const { Agent } = await agentLayer();
      const agentDir = path.join(opts.dataDir, 'agent');
      // The dev agent uses the server's certificate for its endpoint and its calls to the server.
      const agentTls = await listenerTls(opts, 'servers');
      const transport = (await serverPeers(opts))?.servers;
      const agent = await Agent.start({
        serverUrl: server.url,
        tls: agentTls,
        transport,
        dockerTls: dockerTls(opts),
        dataDir: agentDir,
        token: opts.acl ? await devAgentToken(server, agentDir) : undefined,
        logger,
        nodeName: opts.nodeName ?? 'dev',
        defaultDriver: opts.driver,
        dockerHost: opts.dockerHost,
        dnsServers: server.discovery.bridgeAddress ? [server.discovery.bridgeAddress] : undefined,
        // Containers reach services at the bridge address, not at 127.0.0.1 (their own loopback).
        address: server.discovery.bridgeAddress,
        serviceAddresses: opts.serviceAddresses === true,
        logForward: opts.logForward,
        logForwardBuffer: opts.logForwardBuffer,
      });
      onSignals(
        logger,
        async () => {
          await agent.stop();
          await server.stop();
        },
        () => (server.reloadTls(), agent.reloadTls()),
      );
      const env = server.tlsEnabled ? `BERTH_CACERT=${opts.tlsCa} ${opts.verifyIncoming ? 'BERTH_CLIENT_CERT=<cli cert> BERTH_CLIENT_KEY=<its key> ' : ''}` : '';
      process.stderr.write(
        `\nberth dev is running: API ${server.url}, UI ${server.url}/ui/, node "${agent.nodeName}" (driver ${agent.defaultDriver}), data in ${opts.dataDir}\n` +
          `Try: ${env}BERTH_ADDR=${server.url} npx berth job run examples/web.yaml\n\n`,
      );
      for (const file of opts.run ?? []) await runExample(server.url, file, logger, transport);
    });
}

/** A duration flag, in ms; refused while the command line is parsed, before anything is opened. */
function durationMs(value: string): number {
  const parsed = parseDuration(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return parsed.value;
}

/**
 * The garbage collector's flags (Nomad's names and defaults), the window of revision history the
 * SQLite state keeps, and the service address range, on `berth server` and `berth dev`.
 */
function addGcFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--service-address-range <cidr>', 'the IPv4 block each service gets its address from (the same on every server)').env('BERTH_SERVICE_ADDRESS_RANGE').default('198.18.0.0/16'))
    .addOption(new Option('--gc-interval <duration>', 'how often the leader collects garbage').env('BERTH_GC_INTERVAL').argParser(durationMs).default(durationMs('5m'), '5m'))
    .addOption(new Option('--job-gc-threshold <duration>', 'a stopped job is collected (with its allocations, evaluations, versions) this long after it stopped').env('BERTH_JOB_GC_THRESHOLD').argParser(durationMs).default(durationMs('4h'), '4h'))
    .addOption(new Option('--eval-gc-threshold <duration>', 'a terminal evaluation or allocation is collected this long after its last change').env('BERTH_EVAL_GC_THRESHOLD').argParser(durationMs).default(durationMs('1h'), '1h'))
    .addOption(new Option('--batch-eval-gc-threshold <duration>', 'the same for batch jobs').env('BERTH_BATCH_EVAL_GC_THRESHOLD').argParser(durationMs).default(durationMs('24h'), '24h'))
    .addOption(new Option('--deployment-gc-threshold <duration>', 'a finished deployment (not a job\'s latest) is collected this long after it finished').env('BERTH_DEPLOYMENT_GC_THRESHOLD').argParser(durationMs).default(durationMs('1h'), '1h'))
    .addOption(new Option('--node-gc-threshold <duration>', 'a node down this long, with nothing live on it, is collected with its secret').env('BERTH_NODE_GC_THRESHOLD').argParser(durationMs).default(durationMs('24h'), '24h'))
    .addOption(new Option('--job-versions-kept <n>', 'old versions a job keeps besides its current one (and those still in use), for job history and revert').env('BERTH_JOB_VERSIONS_KEPT').argParser(positiveInt).default(19))
    .addOption(new Option('--history-revisions <n>', 'revisions of history the SQLite state keeps for watches and the event stream (an older index gets 410); bounds the state file under churn').env('BERTH_HISTORY_REVISIONS').argParser(positiveInt).default(1000));
}

/** `berth server`: the control plane. */
function serverCommand(): Command {
  const server = common(new Command('server'))
    .description('The control plane: state, scheduler, HTTP API')
    .addOption(new Option('--data-dir <dir>', 'where the state lives').env('BERTH_DATA_DIR').default('/var/lib/berth/server'))
    .addOption(new Option('--http-addr <host:port>', 'HTTP API and UI address').env('BERTH_HTTP_ADDR').argParser(hostPort).default(hostPort('127.0.0.1:7460'), '127.0.0.1:7460'))
    .addOption(new Option('--dns-addr <host:port>', 'DNS address (UDP and TCP)').env('BERTH_DNS_ADDR').argParser(hostPort).default(undefined, '127.0.0.1:7453'))
    .addOption(new Option('--heartbeat-ttl <duration>', 'least heartbeat TTL agents are given (grows with the cluster)').env('BERTH_HEARTBEAT_TTL').default('10s'))
    .addOption(new Option('--heartbeat-grace <duration>', 'extra time before a silent node is marked down').env('BERTH_HEARTBEAT_GRACE').default('5s'))
    .addOption(new Option('--scheduler-algorithm <name>', 'rank nodes by packing work tight or spreading it').env('BERTH_SCHEDULER_ALGORITHM').choices(['binpack', 'spread']).default('binpack'))
    .addOption(new Option('--run-history <n>', 'runs kept per periodic, parameterized or dependent job; older ones go with their child jobs').env('BERTH_RUN_HISTORY').argParser(positiveInt).default(100))
    .addOption(new Option('--etcd <urls>', 'keep the state in this etcd cluster (client URLs, comma-separated or repeated) to run several servers; default: SQLite in --data-dir').env('BERTH_ETCD').argParser(collectEtcd))
    .addOption(new Option('--name <name>', 'unique name of this server among the servers (default: host name:port)').env('BERTH_SERVER_NAME'))
    .addOption(new Option('--advertise-url <url>', 'the API URL other servers and agents reach this one at (default: the --http-addr URL)').env('BERTH_ADVERTISE_URL').argParser(urlArg))
    .addOption(aclOption())
    .addOption(keyringKekOption())
    .action(async (opts: RunOpts) => {
      const logger = await newLogger(opts);
      const s = await startServer(opts, logger);
      onSignals(logger, () => s.stop(), () => s.reloadTls());
    });
  addGcFlags(server);
  server.addCommand(serverMembersCommand());
  return server;
}

/** `berth agent`: runs tasks on this host. */
function agentCommand(): Command {
  return common(new Command('agent'))
    .description('Run tasks on this host for a berth server')
    .addOption(new Option('--server <url>', 'a server to join; repeat for several (the agent fails over between them)').env('BERTH_SERVER').argParser(collectServers))
    .addOption(new Option('--data-dir <dir>', 'where the node id, allocation records and task files live').env('BERTH_DATA_DIR').default('/var/lib/berth/agent'))
    .addOption(new Option('--node-name <name>', 'unique name of this node (default: host name)').env('BERTH_NODE_NAME'))
    .addOption(new Option('--datacenter <dc>', 'datacenter of this node').env('BERTH_DATACENTER').default('dc1'))
    .addOption(new Option('--address <ip>', "address where this node's task ports are reachable (default: the address of the interface that reaches the server)").env('BERTH_ADVERTISE'))
    .addOption(new Option('--http-addr <host:port>', "the agent's own endpoint (logs, exec, stats), which the server connects to; port 0 picks one (default: the interface that reaches the server, port 0)").env('BERTH_AGENT_HTTP_ADDR').argParser(hostPort))
    .addOption(new Option('--reserve-cpu <cores>', 'CPU kept for the host itself, in cores (0.5) or millicores (500m): the node offers the rest').env('BERTH_RESERVE_CPU').argParser(reserveCpu))
    .addOption(new Option('--reserve-memory <size>', 'memory kept for the host itself (512Mi, 1Gi): the node offers the rest').env('BERTH_RESERVE_MEMORY').argParser(reserveMemory))
    .addOption(new Option('--port-range <min-max>', 'host ports that dynamic task ports are picked from').env('BERTH_PORT_RANGE').argParser(portRange).default(portRange('20000-32000'), '20000-32000'))
    .addOption(new Option('--driver <driver>', 'driver for tasks that name none: docker, process or auto').env('BERTH_DRIVER').argParser(driverChoice).default('auto'))
    .addOption(new Option('--docker-host <addr>', 'Docker engine address').env('DOCKER_HOST'))
    .addOption(new Option('--node-class <class>', 'class of this node, for ${node.class} constraints').env('BERTH_NODE_CLASS'))
    .addOption(new Option('--meta <key=value>', 'node metadata for ${meta.<key>} constraints; repeat for several').argParser(collectMeta))
    .addOption(new Option('--ingress <host:port>', 'accept outside HTTP traffic here and route it by Host and path to healthy instances on any node (TCP routes listen on the same host); repeat for several').env('BERTH_INGRESS').argParser(collectIngress))
    .addOption(new Option('--ingress-proxy <proxy>', "the ingress's data path: builtin, or haproxy (driven through its runtime API; needs haproxy installed)").env('BERTH_INGRESS_PROXY').choices(['builtin', 'haproxy']))
    .addOption(new Option('--ingress-request-timeout <duration>', "time a client has to send a request, and an instance to start its answer (then 504), through the ingress (both data paths)").env('BERTH_INGRESS_REQUEST_TIMEOUT').argParser(timeoutMs).default(undefined, '60s'))
    .addOption(new Option('--ingress-idle-timeout <duration>', 'how long a keep-alive connection, a WebSocket or a TCP route\'s connection may sit idle in the ingress before it is closed (both data paths)').env('BERTH_INGRESS_IDLE_TIMEOUT').argParser(timeoutMs).default(undefined, '60s'))
    .addOption(new Option('--task-dns <ip|auto>', "DNS server for docker tasks that set none, so that they resolve NAME.service.berth: where berth's DNS answers on port 53 (`berth server --dns-bridge`); auto: this host's docker0 address; repeat for several").env('BERTH_TASK_DNS').argParser(collectTaskDns))
    .addOption(serviceAddressesOption(', which relays other queries to --task-dns'))
    .action(async (opts: AgentOpts) => {
      await checkLogForward(opts.logForward);
      const logger = await newLogger(opts);
      const tls = await listenerTls(opts, 'servers');
      const transport = await agentTransport(opts);
      const servers = opts.server?.length ? opts.server : [transport ? 'https://127.0.0.1:7460' : 'http://127.0.0.1:7460'];
      const { Agent, resolveNodeAddresses } = await agentLayer();
      // Found here rather than left to the agent so that a loopback address meant for one host is misuse (exit 2).
      const addresses = await resolveNodeAddresses({ servers, address: opts.address, httpHost: opts.httpAddr?.host });
      if (!addresses.ok) throw new CliError(addresses.error, EXIT_USAGE);
      const a = await Agent.start({
        tls,
        transport,
        dockerTls: dockerTls(opts),
        serverUrl: servers[0],
        servers,
        dataDir: opts.dataDir,
        logger,
        nodeName: opts.nodeName,
        datacenter: opts.datacenter,
        address: addresses.value.address,
        httpHost: addresses.value.httpHost,
        httpPort: opts.httpAddr?.port ?? 0,
        defaultDriver: opts.driver,
        dockerHost: opts.dockerHost,
        nodeClass: opts.nodeClass,
        meta: opts.meta,
        reserved: { cpu: opts.reserveCpu, memoryMiB: opts.reserveMemory },
        portRange: opts.portRange,
        dnsServers: taskDnsServers(opts.taskDns),
        ingress: ingressSettings(opts),
        serviceAddresses: opts.serviceAddresses === true,
        logForward: opts.logForward,
        logForwardBuffer: opts.logForwardBuffer,
      });
      onSignals(logger, () => a.stop(), () => a.reloadTls());
    });
}

/** `--service-addresses`, the same on `berth agent` and `berth dev`; `relay` says where the node DNS sends other names. */
function serviceAddressesOption(relay = ", which relays other queries to this host's resolvers"): Option {
  return new Option(
    '--service-addresses',
    `serve each service's address on this node (added to lo; needs CAP_NET_ADMIN, else 127.x for process tasks only) and answer NAME.service.berth with it to containers from a DNS responder on the docker bridge${relay}`,
  ).env('BERTH_SERVICE_ADDRESSES');
}

function aclOption(): Option {
  return new Option('--acl', 'enforce ACLs: every request needs a token with the right policy (then run `berth acl bootstrap`)').env('BERTH_ACL');
}

function keyringKekOption(): Option {
  return new Option('--keyring-kek <file>', "the key-encryption key of variables' keyring (default: <data-dir>/keyring.kek, made on first start); give every server the same file").env('BERTH_KEYRING_KEK');
}

/**
 * The token of `berth dev`'s own agent when ACLs are on: made once (a policy for what an agent
 * does, and a token for it) and kept in the agent's data dir, since the operator has no token yet
 * to give it. Reused while it still works.
 */
async function devAgentToken(server: Server, agentDir: string): Promise<string> {
  const file = path.join(agentDir, 'acl-token');
  const saved = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (saved) {
    try {
      server.ctx.acl.resolve(saved);
      return saved;
    } catch {
      // Deleted or expired: make a new one below.
    }
  }
  await server.ctx.acl.applyPolicy('berth-dev-agent', "description: berth dev's own agent\nnodes: [write]\nservices: [write]\nkv: [read]\n");
  const token = await server.ctx.acl.createToken({ description: "berth dev's own agent", policies: ['berth-dev-agent'] });
  await fs.mkdir(agentDir, { recursive: true });
  await fs.writeFile(file, token.secretId, { mode: 0o600 });
  return token.secretId;
}

/** The state: the etcd cluster given with --etcd, else SQLite in the data dir. */
async function openState(opts: RunOpts): Promise<StateBackend> {
  const { openEtcdState, openSqliteState } = await serverLayer();
  if (opts.etcd?.length) {
    try {
      return await openEtcdState(opts.etcd, etcdTls(opts));
    } catch (err) {
      throw new CliError(`Cannot start the server: ${(err as Error).message} (is etcd running there? check --etcd)`);
    }
  }
  await fs.mkdir(opts.dataDir, { recursive: true }).catch((err: Error) => {
    throw new CliError(`Cannot create data dir ${opts.dataDir}: ${err.message}`);
  });
  return openSqliteState(opts.dataDir, opts.historyRevisions === undefined ? {} : { historyRevisions: opts.historyRevisions });
}

async function startServer(opts: RunOpts, logger: Logger): Promise<Server> {
  await checkServiceAddressRange(opts);
  const tls = await listenerTls(opts);
  const peers = await serverPeers(opts);
  const warning = securityWarning({ bindAddress: opts.httpAddr.host, aclEnabled: opts.acl === true, tlsEnabled: tls !== undefined });
  if (warning) process.stderr.write(`\n${warning}\n`);
  const backend = await openState(opts);
  try {
    const discovery = discoveryOptions(opts as RunOpts & DnsFlags, opts.nodeName, opts.datacenter);
    const cluster = { name: opts.name, advertiseUrl: opts.advertiseUrl };
    const { Server } = await serverLayer();
    const acl = { enabled: opts.acl === true, resetFile: path.join(opts.dataDir, 'acl-bootstrap-reset') };
    const browser = browserOptions(opts);
    // A file the operator names must exist (several servers share it); the default one is made.
    const keyring = { kekFile: opts.keyringKek ?? path.join(opts.dataDir, 'keyring.kek'), createKek: opts.keyringKek === undefined };
    return await Server.start({ backend, logger, host: opts.httpAddr.host, port: opts.httpAddr.port, ...schedulerOptions(opts), discovery, ...cluster, acl, browser, tls, peers, keyring });
  } catch (err) {
    await backend.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new CliError(`Cannot listen on ${opts.httpAddr.host}:${opts.httpAddr.port}: the address is in use (is another berth running? pick another with --http-addr)`);
    throw err;
  }
}

/** A --service-address-range the server would refuse is a usage error (exit 2), found before the state is opened. */
async function checkServiceAddressRange(opts: RunOpts): Promise<void> {
  if (opts.serviceAddressRange === undefined) return;
  const { parseAddressRange } = await serverLayer();
  try {
    parseAddressRange(opts.serviceAddressRange);
  } catch (err) {
    throw new CliError(`${(err as Error).message} (--service-address-range, BERTH_SERVICE_ADDRESS_RANGE)`, EXIT_USAGE);
  }
}

/** Heartbeat, scheduler and garbage-collection settings from the server flags (`dev` has only the collector's). */
function schedulerOptions(opts: RunOpts): Partial<ServerOptions> {
  const out: Partial<ServerOptions> = {};
  if (opts.schedulerAlgorithm) out.schedulerAlgorithm = opts.schedulerAlgorithm;
  if (opts.runHistory !== undefined) out.periodic = { runsKept: opts.runHistory };
  const ms = (flag: string, value: string): number => {
    const parsed = parseDuration(value);
    if (!parsed.ok) throw new CliError(`Cannot start the server: --${flag} ${parsed.error}`, EXIT_USAGE);
    return parsed.value;
  };
  const gc: NonNullable<ServerOptions['gc']> = {};
  if (opts.gcInterval !== undefined) gc.intervalMs = opts.gcInterval;
  if (opts.jobGcThreshold !== undefined) gc.jobThresholdMs = opts.jobGcThreshold;
  if (opts.evalGcThreshold !== undefined) gc.evalThresholdMs = opts.evalGcThreshold;
  if (opts.batchEvalGcThreshold !== undefined) gc.batchEvalThresholdMs = opts.batchEvalGcThreshold;
  if (opts.deploymentGcThreshold !== undefined) gc.deploymentThresholdMs = opts.deploymentGcThreshold;
  if (opts.nodeGcThreshold !== undefined) gc.nodeThresholdMs = opts.nodeGcThreshold;
  if (opts.jobVersionsKept !== undefined) gc.versionsKept = opts.jobVersionsKept;
  if (Object.keys(gc).length > 0) out.gc = gc;
  if (opts.serviceAddressRange !== undefined) out.serviceAddressRange = opts.serviceAddressRange;
  if (opts.heartbeatTtl === undefined && opts.heartbeatGrace === undefined) return out;
  out.heartbeat = { minHeartbeatTtlMs: ms('heartbeat-ttl', opts.heartbeatTtl ?? '10s'), heartbeatGraceMs: ms('heartbeat-grace', opts.heartbeatGrace ?? '5s') };
  return out;
}

/** Register a job file and follow it, logging instead of failing the process. */
async function runExample(url: string, file: string, logger: Logger, transport?: Transport): Promise<void> {
  try {
    const [{ BerthClient }, { watchRollout }] = await Promise.all([import('../../api/index.ts'), import('../progress.ts')]);
    const client = new BerthClient({ address: url, transport });
    const text = await fs.readFile(file, 'utf8');
    const result = await client.registerJob(text, path.extname(file) === '.json' ? 'json' : 'yaml');
    const job = await client.getJob(result.jobId);
    const outcome = await watchRollout(client, { job, evalId: result.evalId });
    if (outcome.ok) process.stderr.write(`Job "${job.id}" from ${file} is ${job.type === 'batch' ? 'complete' : 'running'}: npx berth job status ${job.id}\n`);
    else logger.error({ file }, outcome.reason);
  } catch (err) {
    logger.error({ err: (err as Error).message, file }, 'cannot run example job');
  }
}

/**
 * SIGINT/SIGTERM: shut down cleanly once; a second signal exits at once. SIGHUP: read the TLS
 * certificates again (`reload`); a bad file is logged and the old certificates stay.
 */
function onSignals(logger: Logger, shutdown: () => Promise<void>, reload: () => void): void {
  process.on('SIGHUP', () => {
    try {
      reload();
      logger.info({ signal: 'SIGHUP' }, 'TLS certificates reloaded (if any)');
    } catch (err) {
      logger.error({ signal: 'SIGHUP', err: (err as Error).message }, 'cannot reload the TLS certificates; keeping the old ones');
    }
  });
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down (tasks keep running)');
    shutdown()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
