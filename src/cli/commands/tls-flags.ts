/**
 * The TLS flags of `berth dev`, `berth server` and `berth agent`, and what they make: the API's
 * listener (ServerTls), the transports to servers and agents (ClientTls), etcd's credentials and
 * the Docker engine's TLS files.
 */
import { Option, type Command } from 'commander';
import type { Transport } from '../../api/index.ts';
import type { DockerTlsFiles } from '../../agent/index.ts';
import type { ServerTls } from '../../tls/index.ts';
import type { EtcdTlsFiles } from '../../server/index.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';

/** The flags' values. */
export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  verifyIncoming?: boolean;
  region: string;
  /** The agent's calls to the servers (default: its --tls-* files). */
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  /** The name the servers' certificates must carry (default server.<region>.berth). */
  tlsServerName?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  dockerTlsCa?: string;
  dockerTlsCert?: string;
  dockerTlsKey?: string;
}

/** A transport that `reloadTls` reads again. */
export type ReloadableTransport = Transport & { reload(): void };

/** `--tls-cert`, `--tls-key`, `--tls-ca`, `--verify-incoming`, `--region`: the listener's TLS. */
export function addListenerTlsFlags(cmd: Command, what: string): Command {
  return cmd
    .addOption(new Option('--tls-cert <file>', `certificate of ${what} (PEM): serve HTTPS; reloaded on SIGHUP`).env('BERTH_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'key of --tls-cert (PEM)').env('BERTH_TLS_KEY'))
    .addOption(new Option('--tls-ca <file>', 'CA that signed the cluster certificates: verifies peers, and callers with --verify-incoming').env('BERTH_TLS_CA'))
    .addOption(new Option('--verify-incoming', 'mutual TLS: refuse callers without a certificate signed by --tls-ca').env('BERTH_VERIFY_INCOMING'))
    .addOption(new Option('--region <region>', 'region in the role names certificates carry (server.<region>.berth)').env('BERTH_REGION').default('global'));
}

/** `--etcd-cacert`, `--etcd-cert`, `--etcd-key`: TLS to etcd (`--etcd https://...`). */
export function addEtcdTlsFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--etcd-cacert <file>', 'CA that signed the etcd members\' certificates').env('BERTH_ETCD_CACERT'))
    .addOption(new Option('--etcd-cert <file>', 'client certificate for etcd (--client-cert-auth)').env('BERTH_ETCD_CERT'))
    .addOption(new Option('--etcd-key <file>', 'key of --etcd-cert').env('BERTH_ETCD_KEY'));
}

/** `--docker-tls-ca`, `--docker-tls-cert`, `--docker-tls-key`: TLS to a tcp Docker engine (else DOCKER_TLS_VERIFY/DOCKER_CERT_PATH). */
export function addDockerTlsFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--docker-tls-ca <file>', 'CA of a remote Docker engine (default: DOCKER_CERT_PATH/ca.pem when DOCKER_TLS_VERIFY is set)'))
    .addOption(new Option('--docker-tls-cert <file>', 'client certificate for the Docker engine'))
    .addOption(new Option('--docker-tls-key <file>', 'key of --docker-tls-cert'));
}

/** A misuse of the TLS flags, as the CLI reports it. */
function misuse(message: string): CliError {
  return new CliError(`Cannot start: ${message}`, EXIT_USAGE);
}

/** Run `make`, turning a file problem into the CLI's error. */
function loading<T>(make: () => T): T {
  try {
    return make();
  } catch (err) {
    throw misuse((err as Error).message);
  }
}

/**
 * The listener's TLS from the flags, or undefined without --tls-cert. `callers`: the roles whose
 * certificates it takes under --verify-incoming (an agent's endpoint: servers only). Default any.
 */
export async function listenerTls(opts: TlsFlags, callers?: 'servers'): Promise<ServerTls | undefined> {
  if (!opts.tlsCert && !opts.tlsKey) {
    if (opts.verifyIncoming) throw misuse('--verify-incoming needs --tls-cert, --tls-key and --tls-ca');
    return undefined;
  }
  if (!opts.tlsCert || !opts.tlsKey) throw misuse('--tls-cert and --tls-key go together');
  if (!opts.tlsCa) throw misuse('--tls-cert needs --tls-ca, the CA that signed the certificates of the other servers and agents');
  const { ServerTls, roleName } = await import('../../tls/index.ts');
  const callerNames = callers === 'servers' ? [roleName('server', opts.region)] : undefined;
  return loading(() => ServerTls.load({ cert: opts.tlsCert!, key: opts.tlsKey!, ca: opts.tlsCa, verifyIncoming: opts.verifyIncoming, callerNames }));
}

/**
 * How a server calls other servers and agents: trusting --tls-ca, presenting its own certificate,
 * and checking the peer's role name (server.<region>.berth; an agent's client.<region>.berth, or a
 * server's in `berth dev`). Undefined without TLS.
 */
export async function serverPeers(opts: TlsFlags): Promise<{ servers: ReloadableTransport; agents: ReloadableTransport; reload(): void } | undefined> {
  if (!opts.tlsCert) return undefined;
  const { ClientTls, roleName } = await import('../../tls/index.ts');
  const files = { ca: opts.tlsCa, cert: opts.tlsCert, key: opts.tlsKey };
  const servers = loading(() => ClientTls.load(files, { peerNames: [roleName('server', opts.region)] }));
  const agents = loading(() => ClientTls.load(files, { peerNames: [roleName('client', opts.region), roleName('server', opts.region)] }));
  return { servers, agents, reload: () => (servers.reload(), agents.reload()) };
}

/**
 * How an agent calls the servers: --ca-cert/--client-cert/--client-key (BERTH_CACERT, ...), each
 * defaulting to the agent's --tls-ca/--tls-cert/--tls-key; undefined when none is set.
 */
export async function agentTransport(opts: TlsFlags): Promise<ReloadableTransport | undefined> {
  const files = { ca: opts.caCert ?? opts.tlsCa, cert: opts.clientCert ?? opts.tlsCert, key: opts.clientKey ?? opts.tlsKey };
  if (!files.ca && !files.cert && !files.key) return undefined;
  const { ClientTls, roleName } = await import('../../tls/index.ts');
  return loading(() => ClientTls.load(files, { peerNames: files.ca ? [opts.tlsServerName ?? roleName('server', opts.region)] : undefined }));
}

/** etcd's TLS files from the flags, or undefined. */
export function etcdTls(opts: TlsFlags): EtcdTlsFiles | undefined {
  if (!opts.etcdCacert && !opts.etcdCert && !opts.etcdKey) return undefined;
  if (!!opts.etcdCert !== !!opts.etcdKey) throw misuse('--etcd-cert and --etcd-key go together');
  return { ca: opts.etcdCacert, cert: opts.etcdCert, key: opts.etcdKey };
}

/** The Docker engine's TLS files from the flags, or undefined (the driver then reads DOCKER_TLS_VERIFY). */
export function dockerTls(opts: TlsFlags): DockerTlsFiles | undefined {
  const { dockerTlsCa: ca, dockerTlsCert: cert, dockerTlsKey: key } = opts;
  if (!ca && !cert && !key) return undefined;
  if (!ca || !cert || !key) throw misuse('--docker-tls-ca, --docker-tls-cert and --docker-tls-key go together');
  return { ca, cert, key };
}
