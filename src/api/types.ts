/**
 * The wire contract of the HTTP API: what each route takes and returns. Domain objects (Job,
 * Allocation, Node, Evaluation) travel as the model types.
 */
import type { AclScope, Allocation, ClientStatus, DependencyCondition, DependencyWait, DriverInfo, DriverName, Evaluation, MarkedSuccess, Job, JobDiff, JobStatus, JobType, PlacementFailure, TaskState } from '../model/index.ts';

/** `POST /v1/jobs` answers with this. */
export interface JobRegisterResponse {
  jobId: string;
  version: number;
  evalId: string;
  /** True when the spec differed from the registered version. */
  changed: boolean;
  index: number;
  /** The deployment that rolls this version out, when its groups have an update strategy. */
  deploymentId?: string;
  /** What was accepted but deserves a look, with its path: a dependency on a job that does not exist yet. */
  warnings?: { path: string; message: string }[];
}

/** What a dry run would do to one group, by reconciler bucket. */
export interface GroupPlanCounts {
  place: number;
  stop: number;
  inplace: number;
  destructive: number;
  migrate: number;
  lost: number;
  reschedule: number;
  /** New allocations placed as canaries (the rest wait for a promotion). */
  canary?: number;
}

/** `POST /v1/jobs/:id/plan` answers with this: what registering the spec would do, committing nothing. */
export interface JobPlanResponse {
  jobId: string;
  /** The version the spec would become. */
  version: number;
  changed: boolean;
  groups: Record<string, GroupPlanCounts>;
  /** Where each new allocation would go, with the best scores among the nodes it was weighed on. */
  placements: { name: string; nodeId: string; nodeName: string; topScores: { nodeId: string; score: number }[] }[];
  /** What could not be placed, with the metrics that say why. */
  failures: PlacementFailure[];
  /** One line per failure, as `eval status` prints it. */
  explanation: string[];
  /** The spec against the registered job, per group and task. */
  diff?: JobDiff;
  /** The job's modify index now (0: not registered), for `job run --check-index`. */
  modifyIndex?: number;
  /** The placements would be held first: the dependencies not met now. */
  held?: DependencyWait[];
}

/** `GET /v1/jobs/:id/versions?diffs=true` answers with this: versions newest first, each diff from the one before. */
export interface JobVersionsResponse {
  versions: Job[];
  diffs: { from: number; to: number; diff: JobDiff }[];
}

/** `DELETE /v1/jobs/:id` answers with this. */
export interface JobStopResponse {
  jobId: string;
  evalId: string;
  purged: boolean;
  index: number;
}

/** Allocation counts of one group, by client status, for allocations of the job. */
export interface GroupSummary {
  desired: number;
  pending: number;
  running: number;
  complete: number;
  failed: number;
  lost: number;
}

/** One row of `GET /v1/jobs`. */
export interface JobListItem {
  id: string;
  type: JobType;
  priority: number;
  version: number;
  stop: boolean;
  status: JobStatus;
  summary: Record<string, GroupSummary>;
  submitTime: number;
}

/** `GET /v1/jobs/:id/summary`. */
export interface JobSummary {
  jobId: string;
  status: JobStatus;
  version: number;
  groups: Record<string, GroupSummary>;
  /** Placement failures of the latest evaluation, if any. */
  latestEval?: Evaluation;
  /** Its dependencies (`after:` with conditions) and whether each is met now. */
  dependencies?: { job: string; condition: DependencyCondition; restart: boolean; met: boolean; reason?: string }[];
  /** Its placements are held: the dependencies not met now (the latest evaluation held it). */
  held?: DependencyWait[];
}

/** What an agent sends to register its node. */
export interface NodeRegisterRequest {
  id: string;
  name: string;
  datacenter: string;
  address: string;
  httpAddr: string;
  attributes: Record<string, string>;
  drivers: Partial<Record<DriverName, DriverInfo>>;
  defaultDriver: DriverName;
  resources: { cpu: number; memoryMiB: number };
  portRange: { min: number; max: number };
  /** A class of node, for `${node.class}` constraints. */
  nodeClass?: string;
  /** Operator-set metadata, for `${meta.<name>}` constraints. */
  meta?: Record<string, string>;
}

/** What the server answers to a registration or heartbeat. */
export interface HeartbeatResponse {
  /** Heartbeat again before this many ms have passed, or be marked down. */
  heartbeatTtlMs: number;
  index: number;
}

/** An agent's report of one allocation. */
export interface AllocUpdate {
  id: string;
  clientStatus: ClientStatus;
  clientDescription?: string;
  taskStates: Record<string, TaskState>;
}

/** `PUT /v1/nodes/:id/allocations` body. */
export interface AllocUpdateRequest {
  allocs: AllocUpdate[];
}

/** A list with the index it was read at, for blocking queries. */
export interface Indexed<T> {
  index: number;
  value: T;
}

export type { Allocation, Evaluation, Job };

/** One live server, as `GET /v1/servers` lists it. */
export interface ServerListEntry {
  name: string;
  /** Its HTTP API. */
  url: string;
  /** The address of its discovery node. */
  address: string;
  /** When it started (RFC 3339). */
  startedAt: string;
  /** True for the leader. */
  leader: boolean;
  /** True for the server that answered. */
  self: boolean;
}

/** An ACL token as the API shows it (never its secret hash). */
export interface AclTokenInfo {
  accessorId: string;
  description: string;
  type: 'management' | 'client';
  policies: string[];
  createTime: number;
  expirationTime?: number;
  /** Only in the answer that created the token. */
  secretId?: string;
}

/** One question for `POST /v1/acl/authorize`: may the caller's token use `capability` on `name` (absent: on any object) of `scope`? */
export interface AclCheck {
  scope: AclScope;
  name?: string;
  capability: string;
}

/** What `token create` and `token update` send. */
export interface AclTokenRequest {
  description?: string;
  type?: 'management' | 'client';
  policies?: string[];
  /** A duration: 30m, 12h, 90d. */
  expirationTtl?: string;
}

/** An ACL policy: its document (`source`) and the rules parsed from it. */
export interface AclPolicyInfo {
  name: string;
  description: string;
  source?: string;
  rules?: { scope: string; pattern: string; capabilities: string[] }[];
  createTime: number;
  modifyTime: number;
}

/** What `PUT /v1/system/gc` deleted, rows by kind. */
export interface GcResponse {
  jobs: number;
  jobVersions: number;
  allocs: number;
  evals: number;
  deployments: number;
  runs: number;
  nodes: number;
  nodeSecrets: number;
  /** Batches that lost a race with another write; their rows are looked at again on the next pass. */
  conflicts: number;
}

/** One job of the graph. */
export interface GraphNode {
  id: string;
  /** Absent for a job named by a dependency that does not exist (yet). */
  type?: JobType;
  periodic: boolean;
  parameterized: boolean;
  /** True when stopped, or when the job does not exist. */
  stop: boolean;
  missing?: boolean;
  /** How the job last finished, if it has (batch jobs and templates). */
  last?: 'complete' | 'failed';
  /** Allocations running now. */
  running: number;
  /** The job's status as `job status` says it (absent for a missing job). */
  status?: JobStatus;
  /** Its placements are held: the dependencies its newest evaluation waited for. */
  held?: DependencyWait[];
}

/** One dependency: `to` waits for `from`; `condition` absent for a batch chain's short form (`after: [a]`). */
export interface GraphEdge {
  from: string;
  to: string;
  condition?: DependencyCondition;
  restart?: boolean;
}

/** The graph: jobs that have or are dependencies, and an edge parent -> dependent for each `after`. */
export interface JobGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}


/** `POST /v1/jobs/:id/mark-success` answers with this. */
export interface MarkSuccessResponse {
  jobId: string;
  /** The run marked: the child job, or the job itself for a plain batch job. */
  run: string;
  /** The allocations marked (a plain batch job); empty for a run record. */
  allocIds: string[];
  marked: MarkedSuccess;
  index: number;
}

/** `GET /v1/ingress`: what the ingress nodes route, to which instances, with their health. */
export interface IngressStatus {
  /** Every ingress route of a job that is not stopped, sorted by kind, host, path, port. */
  routes: IngressRouteEntry[];
  /** The instances of each routed service; only `passing` ones get traffic. */
  services: IngressServiceEntry[];
  /** The nodes whose agent runs an ingress (`berth agent --ingress`). */
  nodes: IngressNodeEntry[];
}

/** One route: HTTP by host and path prefix, or a TCP port. */
export interface IngressRouteEntry {
  kind: 'http' | 'tcp';
  service: string;
  jobId: string;
  /** HTTP: the Host matched; absent: any. */
  host?: string;
  /** HTTP: the path prefix. */
  path?: string;
  /** TCP: the ingress port. */
  port?: number;
}

/** A routed service's instances. */
export interface IngressServiceEntry {
  service: string;
  instances: IngressInstanceEntry[];
}

/** One instance, as the ingress dials it: the node's address and the host port. */
export interface IngressInstanceEntry {
  id: string;
  nodeName: string;
  address: string;
  port: number;
  status: 'passing' | 'warning' | 'critical';
}

/** A node that runs an ingress. */
export interface IngressNodeEntry {
  nodeId: string;
  name: string;
  /** The HTTP addresses it listens on. */
  addresses: string[];
  /** Its data path: builtin or haproxy. */
  proxy: string;
}
