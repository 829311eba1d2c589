/**
 * Services and checks: what a job declares (`ServiceSpec`, `CheckSpec`) and what the catalog
 * holds (`ServiceInstance` with its `CheckState`s). Consul is the model: checks are passing,
 * warning or critical, and a new check starts critical.
 */

/** A check's health, as Consul names it. */
export type CheckStatus = 'passing' | 'warning' | 'critical';

/** The kinds of check berth runs. `ttl` is refreshed from outside; the others the agent runs. */
export type CheckType = 'http' | 'tcp' | 'script' | 'ttl' | 'grpc';

/** Restart the task when its check keeps failing (Nomad's check_restart). */
export interface CheckRestart {
  /** Consecutive critical results that restart the task; 0 disables. */
  limit: number;
  /** Results within this long after the task (re)starts are not counted. */
  graceMs: number;
}

/** A check as declared in a job spec or an external registration. */
export interface CheckSpec {
  /** Default: `service: <service name> check <n>`. */
  name?: string;
  type: CheckType;
  intervalMs: number;
  timeoutMs: number;
  /** http: the path (default `/`), the method (GET), headers and the passing status range. */
  path?: string;
  method?: string;
  headers?: Record<string, string[]>;
  /** Inclusive status range that passes; default 200-299 (Consul: 2xx passes, 429 warns). */
  expectStatus?: { min: number; max: number };
  /** script: the command and its arguments, run inside the task (docker) or as a process. */
  command?: string;
  args?: string[];
  /** grpc: the service name to ask the gRPC health protocol about ('' for the server). */
  grpcService?: string;
  /** External http checks: the whole URL, as Consul's `HTTP`. */
  url?: string;
  /** External tcp and grpc checks: `host:port`, as Consul's `TCP` and `GRPC`. */
  target?: string;
  /** The port label to check; default the service's port. */
  portLabel?: string;
  /** ttl: how long a pass stays good without a refresh. */
  ttlMs?: number;
  /** Consecutive passes before a check turns passing (Consul's success_before_passing). */
  successBeforePassing: number;
  /** Consecutive failures before a check turns critical (Consul's failures_before_critical). */
  failuresBeforeCritical: number;
  checkRestart?: CheckRestart;
  /** External services: remove the service once the check has been critical this long. */
  deregisterCriticalAfterMs?: number;
}

/** Which address a service advertises: the node's (host port) or the driver's (container port). */
export type AddressMode = 'host' | 'driver' | 'auto';

/** A service as declared on a group or a task. */
export interface ServiceSpec {
  name: string;
  /** The port label; absent for a service without a port. */
  portLabel?: string;
  tags: string[];
  meta: Record<string, string>;
  addressMode: AddressMode;
  checks: CheckSpec[];
  /** How outside traffic reaches the service through `berth agent --ingress` nodes; absent when it does not. */
  ingress?: IngressRoute[];
}

/**
 * One ingress route of a service: HTTP requests by `host` and/or `path` prefix, or the
 * connections to a TCP `port` of the ingress nodes. Stored normalised: host lower-case, path
 * without a trailing "/".
 */
export interface IngressRoute {
  /** HTTP: the Host to match; absent: any host. */
  host?: string;
  /** HTTP: the path prefix, matched on segment boundaries; absent: every path. */
  path?: string;
  /** TCP: the ingress nodes' port whose connections go to the service. */
  port?: number;
}

/** Node meta an agent started with `--ingress` registers with, which the server reads. */
export const INGRESS_NODE_META = {
  /** The ingress's HTTP addresses (`host:port`), comma-separated. */
  addresses: 'berth.ingress',
  /** The data path: builtin or haproxy. */
  proxy: 'berth.ingress.proxy',
  /** The lowest port the agent may bind (0 when it may bind any). */
  portStart: 'berth.ingress.unprivileged_port_start',
} as const;

/** A check of one instance as the catalog holds it. */
export interface CheckState {
  /** Unique per node, Consul's CheckID. */
  id: string;
  name: string;
  type: CheckType;
  status: CheckStatus;
  output: string;
  notes: string;
  spec: CheckSpec;
  /** Milliseconds since the epoch of the last status report (TTL expiry counts from it). */
  updatedAt: number;
  /** When the check turned critical, for deregister_critical_service_after. */
  criticalSince?: number;
}

/** Where an instance came from: an allocation's spec, or an external registration. */
export type InstanceSource = { kind: 'alloc'; allocId: string; jobId: string; group: string; task?: string } | { kind: 'external' };

/** One instance of a service on a node: a row of the catalog. */
export interface ServiceInstance {
  /** Consul's ServiceID; unique in the cluster (berth keeps one catalog, not one per agent). */
  id: string;
  name: string;
  nodeId: string;
  nodeName: string;
  datacenter: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  checks: CheckState[];
  source: InstanceSource;
  /** The state index before the instance was first written: Consul's CreateIndex. */
  createIndex: number;
}

/** The worst status of a set of checks: an instance with no checks passes. */
export function aggregateStatus(checks: readonly Pick<CheckState, 'status'>[]): CheckStatus {
  if (checks.some((c) => c.status === 'critical')) return 'critical';
  if (checks.some((c) => c.status === 'warning')) return 'warning';
  return 'passing';
}

/** How an upstream's listener picks an instance for each new connection. */
export type UpstreamPolicy = 'round-robin' | 'least-connections';

/**
 * A service a task reaches through a listener of its node's agent (Consul Connect's and Nomad's
 * upstreams, without mesh TLS): `BERTH_UPSTREAM_ADDR_<service>` in the task's environment.
 */
export interface UpstreamSpec {
  /** The service's name; one that no job registers yet is accepted and has no instances. */
  service: string;
  /** The port of the listener: on loopback for process tasks, on the docker bridge for containers. */
  localBindPort: number;
  /** The instances' datacenter; absent: the agent's own. */
  datacenter?: string;
  policy: UpstreamPolicy;
  /** Time a connect to one instance may take. */
  connectTimeoutMs: number;
  /** Further instances tried after a failed connect. */
  retries: number;
  /** Passive outlier detection: failed connects in a row eject an instance for a while. */
  outlier: { consecutiveFailures: number; baseEjectionMs: number; maxEjectionMs: number };
}

/**
 * A service's address: one IP, the same on every node, allocated by the server from its range the
 * first time a job registers the service, and kept (a name's address never changes, so tasks and
 * DNS caches never see it move). Each node's agent listens on it, on each of `ports`.
 */
export interface ServiceAddress {
  /** The service's name. */
  service: string;
  /** An IPv4 address of the server's `--service-address-range`. */
  address: string;
  /** The ports it answers on: each port label's `to`, else its static port, as jobs declared them. */
  ports: number[];
}

/**
 * One thing ingress routes claim (`http <host> <path>` or `tcp <port>`) and the service it goes
 * to, kept as a row so that registrations claiming it race on one key: the second txn fails its
 * compare and, rebuilt, is refused. Jobs of one service may share a route, so it lists them all.
 */
export interface IngressClaimRow {
  /** The claim: `http <host> <path>` or `tcp <port>`. */
  key: string;
  service: string;
  /** The jobs whose routes claim it, sorted. */
  jobs: string[];
}
