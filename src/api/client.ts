import { BerthError, type ErrorDetail } from '../model/index.ts';
import type { AllocStats, Allocation, Deployment, Evaluation, Job, JobRun, KeyringKeyInfo, Node, NodeStats, ServiceAddress, Variable, VariableMeta } from '../model/index.ts';
import { codeOfHttpStatus } from './status.ts';
import { ServerPool, envVar } from './server-pool.ts';
import type { Transport } from './transport.ts';
import type {
  IngressStatus,
  AclPolicyInfo,
  JobGraph,
  MarkSuccessResponse,
  AclCheck,
  AclTokenInfo,
  AclTokenRequest,
  ServerListEntry,
  AllocUpdate,
  GcResponse,
  HeartbeatResponse,
  Indexed,
  JobListItem,
  JobPlanResponse,
  JobRegisterResponse,
  JobStopResponse,
  JobSummary,
  JobVersionsResponse,
  NodeRegisterRequest,
} from './types.ts';

/** How much longer than its wait a blocking read may take before its server counts as not answering. */
const BLOCKING_MARGIN_MS = 10_000;

/** Client settings. */
export interface ClientOptions {
  /**
   * Server URL, or several (a list, or comma-separated): a request goes to the next one when a
   * server does not answer. Default env BERTH_ADDR, else http://127.0.0.1:7460.
   */
  address?: string | string[];
  /** Sent as a bearer token. Default env BERTH_TOKEN. */
  token?: string;
  /** An agent's node secret, sent as `X-Berth-Node-Secret`: what lets it act as its node. */
  nodeSecret?: string;
  /** The agent's node id, sent beside the secret as `X-Berth-Node-Id`. */
  nodeId?: string;
  /** Per-request timeout for non-blocking calls. Default 30 s. */
  timeoutMs?: number;
  /** How requests are sent (TLS settings). Default the process default (`setDefaultTransport`), else plain fetch. */
  transport?: Transport;
}

/** Options of a blocking read. */
export interface BlockingOptions {
  /** Return only once the result's index is past this one (or `waitMs` passes). */
  index?: number;
  /** Longest wait. Default 30 s on the server. */
  waitMs?: number;
  signal?: AbortSignal;
}

/** The typed client of berth's HTTP API, used by the CLI, the agent and tests. */
export class BerthClient {
  /** The servers this client talks to. */
  readonly servers: ServerPool;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    this.#token = options.token ?? envVar('BERTH_TOKEN');
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (options.nodeSecret) headers['x-berth-node-secret'] = options.nodeSecret;
    if (options.nodeId) headers['x-berth-node-id'] = options.nodeId;
    // In the pool, so that every request through it carries them (the agent's templates and checks too).
    this.servers = new ServerPool(options.address, { headers, transport: options.transport });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The server requests go to first: the one that answered last. */
  get address(): string {
    return this.servers.current;
  }

  /** Register a job from a YAML or JSON spec text, or a spec object; with `checkIndex`, only if the job is still at that modify index. */
  registerJob(spec: string | object, format: 'yaml' | 'json' = 'yaml', opts: { checkIndex?: number } = {}): Promise<JobRegisterResponse> {
    const path = opts.checkIndex === undefined ? '/v1/jobs' : `/v1/jobs?checkIndex=${opts.checkIndex}`;
    // The server keeps the version when the spec is unchanged: sending it twice registers it once
    // (apart from one more evaluation), unless a check index makes the second one a conflict.
    const idempotent = opts.checkIndex === undefined;
    if (typeof spec === 'string') {
      const type = format === 'yaml' ? 'application/yaml' : 'application/json';
      return this.#json('POST', path, { body: spec, contentType: type, idempotent });
    }
    return this.#json('POST', path, { body: JSON.stringify(spec), contentType: 'application/json', idempotent });
  }

  /** Set a group's count (in place: no restarts). */
  scaleJob(id: string, group: string | undefined, count: number): Promise<JobRegisterResponse> {
    // Setting a count twice sets it once.
    return this.#json('POST', `/v1/jobs/${enc(id)}/scale`, { body: JSON.stringify(group === undefined ? { count } : { group, count }), contentType: 'application/json', idempotent: true });
  }

  /** Replace the given allocations of a job with fresh ones. */
  restartAllocs(id: string, allocIds: string[]): Promise<{ evalId: string; index: number; restarted: string[] }> {
    return this.#json('POST', `/v1/jobs/${enc(id)}/restart`, { body: JSON.stringify({ allocIds }), contentType: 'application/json' });
  }

  /** One deployment by id (or unique prefix); with `index`, a blocking read. */
  getDeployment(id: string, opts?: BlockingOptions): Promise<Indexed<Deployment>> {
    return this.#blocking(`/v1/deployments/${enc(id)}`, opts);
  }

  /** Every deployment, newest first. */
  listDeployments(): Promise<Deployment[]> {
    return this.#json('GET', '/v1/deployments');
  }

  /** Every deployment, newest first, with the index it was read at; with `index`, a blocking read. */
  watchDeployments(opts?: BlockingOptions): Promise<Indexed<Deployment[]>> {
    return this.#blocking('/v1/deployments', opts);
  }

  /** Every deployment of a job, newest first. */
  jobDeployments(jobId: string): Promise<Deployment[]> {
    return this.#json('GET', `/v1/jobs/${enc(jobId)}/deployments`);
  }

  /** Every allocation; with `index`, a blocking read. */
  listAllocations(opts?: BlockingOptions): Promise<Indexed<Allocation[]>> {
    return this.#blocking('/v1/allocations', opts);
  }

  /** The newest deployment of a job, or null. */
  jobDeployment(jobId: string): Promise<Deployment | null> {
    return this.#json('GET', `/v1/jobs/${enc(jobId)}/deployment`);
  }

  /** Promote, fail, pause or resume a deployment. */
  deploymentAction(id: string, action: 'promote' | 'fail' | 'pause' | 'resume', groups?: string[]): Promise<{ deployment: Deployment; index: number; evalId?: string }> {
    return this.#json('POST', `/v1/deployments/${enc(id)}/${action}`, { body: JSON.stringify(groups ? { groups } : {}), contentType: 'application/json' });
  }

  /** The job's kept versions, newest first, with the diff of each from the one before. */
  jobVersions(id: string): Promise<JobVersionsResponse> {
    return this.#json('GET', `/v1/jobs/${enc(id)}/versions?diffs=true`);
  }

  /** Register a stored version again as the newest (`job revert`). */
  revertJob(id: string, version: number, checkIndex?: number): Promise<JobRegisterResponse> {
    return this.#json('POST', `/v1/jobs/${enc(id)}/revert`, { body: JSON.stringify({ version, checkIndex }), contentType: 'application/json' });
  }

  listJobs(opts?: BlockingOptions): Promise<Indexed<JobListItem[]>> {
    return this.#blocking('/v1/jobs', opts);
  }

  /** Dry run: what registering the spec would place, stop and fail to place, committing nothing. */
  planJob(id: string, spec: string | object, format: 'yaml' | 'json' = 'yaml'): Promise<JobPlanResponse> {
    if (typeof spec === 'string') return this.#json('POST', `/v1/jobs/${enc(id)}/plan`, { body: spec, contentType: format === 'yaml' ? 'application/yaml' : 'application/json' });
    return this.#json('POST', `/v1/jobs/${enc(id)}/plan`, { body: JSON.stringify(spec), contentType: 'application/json' });
  }

  listEvaluations(): Promise<Evaluation[]> {
    return this.#json('GET', '/v1/evaluations');
  }

  /** Start (`enable`) or cancel a node drain. */
  drainNode(id: string, body: { enable: boolean; deadlineMs?: number; ignoreSystem?: boolean }): Promise<{ index: number; node: Node }> {
    return this.#json('PUT', `/v1/nodes/${enc(id)}/drain`, { body: JSON.stringify(body), contentType: 'application/json' });
  }

  setNodeEligibility(id: string, eligible: boolean): Promise<{ index: number; node: Node }> {
    return this.#json('PUT', `/v1/nodes/${enc(id)}/eligibility`, { body: JSON.stringify({ eligible }), contentType: 'application/json' });
  }

  /** The live servers and which one leads. */
  listServers(): Promise<ServerListEntry[]> {
    return this.#json('GET', '/v1/servers');
  }

  /** The ingress routes, their services' instances and health, and the ingress nodes (a blocking query). */
  ingressStatus(opts?: BlockingOptions): Promise<Indexed<IngressStatus>> {
    return this.#blocking('/v1/ingress', opts);
  }

  getJob(id: string): Promise<Job> {
    return this.#json('GET', `/v1/jobs/${enc(id)}`);
  }

  jobSummary(id: string, opts?: BlockingOptions): Promise<Indexed<JobSummary>> {
    return this.#blocking(`/v1/jobs/${enc(id)}/summary`, opts);
  }

  jobAllocations(id: string, opts?: BlockingOptions): Promise<Indexed<Allocation[]>> {
    return this.#blocking(`/v1/jobs/${enc(id)}/allocations`, opts);
  }

  /** One stored version of a job (agents fetch the version an allocation runs). */
  getJobVersion(id: string, version: number): Promise<Job> {
    return this.#json('GET', `/v1/jobs/${enc(id)}/versions/${version}`);
  }

  jobEvaluations(id: string): Promise<Evaluation[]> {
    return this.#json('GET', `/v1/jobs/${enc(id)}/evaluations`);
  }

  stopJob(id: string, purge = false): Promise<JobStopResponse> {
    return this.#json('DELETE', `/v1/jobs/${enc(id)}${purge ? '?purge=true' : ''}`);
  }

  getAllocation(id: string, opts?: BlockingOptions): Promise<Indexed<Allocation>> {
    return this.#blocking(`/v1/allocations/${enc(id)}`, opts);
  }

  getEvaluation(id: string): Promise<Evaluation> {
    return this.#json('GET', `/v1/evaluations/${enc(id)}`);
  }

  /** A task's output as a byte stream; with `follow` it stays open until the task stops. */
  async allocLogs(
    id: string,
    options: { task?: string; follow?: boolean; stream?: 'stdout' | 'stderr'; tail?: number; since?: number; signal?: AbortSignal } = {},
  ): Promise<AsyncIterable<Uint8Array>> {
    const q = new URLSearchParams();
    if (options.task) q.set('task', options.task);
    if (options.follow) q.set('follow', 'true');
    if (options.stream) q.set('type', options.stream);
    if (options.tail !== undefined) q.set('tail', String(options.tail));
    if (options.since !== undefined) q.set('since', String(options.since));
    const res = await this.#fetch('GET', `/v1/allocations/${enc(id)}/logs?${q}`, { signal: options.signal, noTimeout: true });
    if (!res.body) return (async function* () {})();
    return res.body as unknown as AsyncIterable<Uint8Array>;
  }

  /** Stop an allocation; the scheduler places a replacement (`alloc stop`). */
  stopAllocation(id: string): Promise<{ allocId: string; evalId: string; index: number }> {
    return this.#json('POST', `/v1/allocations/${enc(id)}/stop`);
  }

  /** Restart an allocation's running tasks (or one) in place, on its node. */
  restartAllocation(id: string, task?: string): Promise<{ allocId: string; tasks: string[] }> {
    return this.#json('POST', `/v1/allocations/${enc(id)}/restart`, { body: JSON.stringify(task === undefined ? {} : { task }), contentType: 'application/json' });
  }

  /** Send a signal (`SIGHUP`) to an allocation's running tasks (or one). */
  signalAllocation(id: string, signal: string, task?: string): Promise<{ allocId: string; tasks: string[] }> {
    return this.#json('POST', `/v1/allocations/${enc(id)}/signal`, { body: JSON.stringify(task === undefined ? { signal } : { signal, task }), contentType: 'application/json' });
  }

  /** CPU and memory of each running task of an allocation, measured by its agent. */
  allocStats(id: string): Promise<AllocStats> {
    return this.#json('GET', `/v1/allocations/${enc(id)}/stats`);
  }

  /** A node's totals and what its tasks use, measured by its agent. */
  nodeStats(id: string): Promise<NodeStats> {
    return this.#json('GET', `/v1/nodes/${enc(id)}/stats`);
  }

  /** The WebSocket URL of an exec session (protocol: see the agent's exec-http.ts). */
  allocExecUrl(id: string, options: { task?: string; command: string[]; tty: boolean }): string {
    const q = new URLSearchParams({ command: JSON.stringify(options.command), tty: String(options.tty) });
    if (options.task) q.set('task', options.task);
    return `${this.address.replace(/^http/, 'ws')}/v1/allocations/${enc(id)}/exec?${q}`;
  }

  listNodes(opts?: BlockingOptions): Promise<Indexed<Node[]>> {
    return this.#blocking('/v1/nodes', opts);
  }

  getNode(id: string): Promise<Node> {
    return this.#json('GET', `/v1/nodes/${enc(id)}`);
  }

  /** Agent: register (or re-register) this node. */
  registerNode(node: NodeRegisterRequest): Promise<HeartbeatResponse> {
    return this.#json('PUT', '/v1/nodes/register', { body: JSON.stringify(node), contentType: 'application/json' });
  }

  /** Agent: say the node is alive. */
  heartbeat(nodeId: string): Promise<HeartbeatResponse> {
    return this.#json('PUT', `/v1/nodes/${enc(nodeId)}/heartbeat`);
  }

  /** Agent: the allocations placed on a node (blocking). */
  nodeAllocations(nodeId: string, opts?: BlockingOptions): Promise<Indexed<Allocation[]>> {
    return this.#blocking(`/v1/nodes/${enc(nodeId)}/allocations`, opts);
  }

  /** Agent: report allocation states. */
  updateAllocations(nodeId: string, allocs: AllocUpdate[]): Promise<{ index: number }> {
    return this.#json('PUT', `/v1/nodes/${enc(nodeId)}/allocations`, { body: JSON.stringify({ allocs }), contentType: 'application/json' });
  }

  /** Runs of a periodic, parameterized or dependent job (newest first) and its next `next` launches. */
  jobRuns(id: string, next = 5): Promise<{ jobId: string; runs: JobRun[]; next: number[] }> {
    return this.#json('GET', `/v1/jobs/${enc(id)}/runs?next=${next}`);
  }

  /** Launch a periodic job now (`job periodic force`). */
  forcePeriodic(id: string): Promise<JobRun> {
    return this.#json('POST', `/v1/jobs/${enc(id)}/periodic/force`);
  }

  /** Dispatch a parameterized job with meta and a payload (base64); with a token, at most once while its child exists. */
  dispatchJob(id: string, body: { meta?: Record<string, string>; payload?: string; idempotencyToken?: string }): Promise<JobRun> {
    return this.#json('POST', `/v1/jobs/${enc(id)}/dispatch`, { body: JSON.stringify(body), contentType: 'application/json' });
  }

  /** The dependency graph of jobs, as JSON or Graphviz DOT text. */
  jobGraph(format: 'json' | 'dot' = 'json'): Promise<unknown> {
    return format === 'dot' ? this.text('/v1/jobs/graph?format=dot') : this.#json('GET', '/v1/jobs/graph');
  }

  /** The dependency graph of jobs: nodes with their last run state, edges with their conditions. */
  dependencyGraph(): Promise<JobGraph> {
    return this.#json('GET', '/v1/jobs/graph');
  }

  /** Mark a failed run of a batch job successful (`run`: a child job id or scheduled time; default the newest failed one). */
  markSuccess(id: string, run?: string): Promise<MarkSuccessResponse> {
    return this.#json('POST', `/v1/jobs/${enc(id)}/mark-success`, { body: JSON.stringify(run === undefined ? {} : { run }), contentType: 'application/json' });
  }

  /** Each service's address and ports (`GET /v1/service-addresses`); with `index`, a blocking read. */
  serviceAddresses(opts?: BlockingOptions): Promise<Indexed<ServiceAddress[]>> {
    return this.#blocking('/v1/service-addresses', opts);
  }

  /** Raw GET of a path, for routes without a typed method (metrics). */
  async text(path: string): Promise<string> {
    const res = await this.#fetch('GET', path, {});
    return res.text();
  }

  async #blocking<T>(path: string, opts: BlockingOptions = {}): Promise<Indexed<T>> {
    const q = new URLSearchParams();
    if (opts.index !== undefined) q.set('index', String(opts.index));
    if (opts.waitMs !== undefined) q.set('wait', `${Math.max(1, Math.round(opts.waitMs))}ms`);
    const sep = path.includes('?') ? '&' : '?';
    // A blocking read may take its whole wait (plus the server's jitter of wait/16); past that and a
    // margin, the server is not answering and the next one is tried.
    const timeoutMs = opts.index === undefined ? undefined : opts.waitMs === undefined ? Infinity : Math.round(opts.waitMs * (17 / 16)) + BLOCKING_MARGIN_MS;
    const res = await this.#fetch('GET', q.size ? `${path}${sep}${q}` : path, { signal: opts.signal, timeoutMs });
    const index = Number(res.headers.get('x-berth-index') ?? 0);
    return { index, value: (await res.json()) as T };
  }

  /** ACLs: the first management token (once). */
  aclBootstrap(): Promise<AclTokenInfo> {
    return this.#json('POST', '/v1/acl/bootstrap', { idempotent: false });
  }

  aclPolicies(): Promise<AclPolicyInfo[]> {
    return this.#json('GET', '/v1/acl/policies');
  }

  aclPolicy(name: string): Promise<AclPolicyInfo> {
    return this.#json('GET', `/v1/acl/policy/${enc(name)}`);
  }

  /** Create or replace a policy from its document (YAML or JSON text). */
  applyAclPolicy(name: string, rules: string, description?: string): Promise<AclPolicyInfo> {
    return this.#json('POST', `/v1/acl/policy/${enc(name)}`, { body: JSON.stringify({ rules, description }), contentType: 'application/json', idempotent: true });
  }

  deleteAclPolicy(name: string): Promise<unknown> {
    return this.#json('DELETE', `/v1/acl/policy/${enc(name)}`);
  }

  /** What this client's token may do: one answer per check, in order. */
  aclAuthorize(checks: AclCheck[]): Promise<boolean[]> {
    return this.#json<{ allowed: boolean[] }>('POST', '/v1/acl/authorize', { body: JSON.stringify({ checks }), contentType: 'application/json', idempotent: true }).then((r) => r.allowed);
  }

  aclTokens(): Promise<AclTokenInfo[]> {
    return this.#json('GET', '/v1/acl/tokens');
  }

  /** A token by accessor id, or `self`: the one this client uses. */
  aclToken(accessor: string): Promise<AclTokenInfo> {
    return this.#json('GET', `/v1/acl/token/${enc(accessor)}`);
  }

  createAclToken(req: AclTokenRequest): Promise<AclTokenInfo> {
    return this.#json('POST', '/v1/acl/token', { body: JSON.stringify(req), contentType: 'application/json', idempotent: false });
  }

  updateAclToken(accessor: string, req: AclTokenRequest): Promise<AclTokenInfo> {
    return this.#json('POST', `/v1/acl/token/${enc(accessor)}`, { body: JSON.stringify(req), contentType: 'application/json', idempotent: true });
  }

  deleteAclToken(accessor: string): Promise<unknown> {
    return this.#json('DELETE', `/v1/acl/token/${enc(accessor)}`);
  }

  /** A variable with its items. */
  getVariable(path: string): Promise<Variable> {
    return this.#json('GET', `/v1/var/${encPath(path)}`);
  }

  /** Create or replace a variable; with `cas`, only if its modify index is still that (0: only if new). */
  putVariable(path: string, items: Record<string, string>, cas?: number): Promise<Variable> {
    const q = cas === undefined ? '' : `?cas=${cas}`;
    return this.#json('PUT', `/v1/var/${encPath(path)}${q}`, { body: JSON.stringify({ items }), contentType: 'application/json', idempotent: cas === undefined });
  }

  /** Delete a variable; with `cas`, only if its modify index is still that. */
  deleteVariable(path: string, cas?: number): Promise<unknown> {
    return this.#json('DELETE', `/v1/var/${encPath(path)}${cas === undefined ? '' : `?cas=${cas}`}`);
  }

  /** The variables under a prefix: metadata, no items. */
  listVariables(prefix = ''): Promise<VariableMeta[]> {
    return this.#json('GET', `/v1/vars?prefix=${encodeURIComponent(prefix)}`);
  }

  /** The keyring's keys: state and how many variables each encrypts. */
  keyringKeys(): Promise<KeyringKeyInfo[]> {
    return this.#json('GET', '/v1/operator/keyring');
  }

  /** Run the garbage collector now, thresholds ignored (the leader runs it). */
  systemGc(): Promise<GcResponse> {
    return this.#json('PUT', '/v1/system/gc', { idempotent: false });
  }

  /** Make a new active key; variables are re-encrypted under it in the background. */
  rotateKeyring(): Promise<KeyringKeyInfo> {
    return this.#json('PUT', '/v1/operator/keyring/rotate', { idempotent: false });
  }

  /** The workload token of an allocation this agent runs (needs its node secret). */
  workloadToken(allocId: string): Promise<{ allocId: string; token: string }> {
    return this.#json('GET', `/v1/allocations/${enc(allocId)}/identity`);
  }

  async #json<T>(method: string, path: string, init: { body?: string; contentType?: string; idempotent?: boolean } = {}): Promise<T> {
    const res = await this.#fetch(method, path, init);
    return (await res.json()) as T;
  }

  async #fetch(
    method: string,
    path: string,
    init: { body?: string; contentType?: string; signal?: AbortSignal; noTimeout?: boolean; timeoutMs?: number; idempotent?: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (init.contentType) headers['content-type'] = init.contentType;
    const res = await this.servers.fetch(path, { method, headers, body: init.body, signal: init.signal, timeoutMs: init.noTimeout || init.timeoutMs === Infinity ? undefined : (init.timeoutMs ?? this.#timeoutMs), idempotent: init.idempotent });
    if (res.ok) return res;
    const text = await res.text();
    let parsed: { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const code = codeOfHttpStatus(res.status);
    throw new BerthError(code, parsed?.error?.message ?? `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`, parsed?.error?.details ?? []);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** A variable path in a URL: each segment encoded, the slashes kept. */
function encPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
