/**
 * The typed tables over the key space: which key holds which row, and the JSON type of each.
 */
import { BerthError } from '../model/index.ts';
import type { AclBootstrap, AclPolicy, AclToken, Allocation, Deployment, Evaluation, Job, JobRun, IngressClaimRow, KeyringKey, Node, NodeSecret, ServiceAddress, ServiceInstance, StoredVariable } from '../model/index.ts';

/** The tables of the state view. */
export type Table =
  | 'jobs'
  | 'jobVersions'
  | 'allocs'
  | 'nodes'
  | 'evals'
  | 'services'
  | 'deployments'
  | 'runs'
  | 'aclPolicies'
  | 'aclTokens'
  | 'aclBootstrap'
  | 'nodeSecrets'
  | 'keyring'
  | 'variables'
  | 'serviceAddresses'
  | 'ingressClaims';

/** The row type of each table. A job version is the Job as it was at that version. */
export interface TableRow {
  jobs: Job;
  jobVersions: Job;
  allocs: Allocation;
  nodes: Node;
  evals: Evaluation;
  /** The service catalog: one row per service instance, by instance id. */
  services: ServiceInstance;
  /** Rollouts of job versions, by deployment id. */
  deployments: Deployment;
  /** Launches of periodic, dispatched and dependent jobs, by `<jobId>/<scheduled ms, 15 digits>`. */
  runs: JobRun;
  /** ACL policies, by name. */
  aclPolicies: AclPolicy;
  /** ACL tokens, by accessor id; the secret is stored hashed only. */
  aclTokens: AclToken;
  /** One row, `bootstrap`, written when the ACL system was bootstrapped. */
  aclBootstrap: AclBootstrap;
  /** The secret of each node, by node id (apart from the node rows, which the API shows). */
  nodeSecrets: NodeSecret;
  /** The keyring's data keys, by key id, each wrapped with the key-encryption key kept outside the state. */
  keyring: KeyringKey;
  /** Variables, by path: ciphertext and plaintext metadata. */
  variables: StoredVariable;
  /** Service addresses, by address (so that two services can never be given one). */
  serviceAddresses: ServiceAddress;
  /** Ingress route claims, by the claim key, URI-encoded (`ingressClaimId`): one service per host and path, or TCP port. */
  ingressClaims: IngressClaimRow;
}

/** Every table, in a fixed order. */
export const TABLES: readonly Table[] = [
  'jobs',
  'jobVersions',
  'allocs',
  'nodes',
  'evals',
  'services',
  'deployments',
  'runs',
  'aclPolicies',
  'aclTokens',
  'aclBootstrap',
  'nodeSecrets',
  'keyring',
  'variables',
  'serviceAddresses',
  'ingressClaims',
];

/**
 * The root of every key berth writes. The view watches all of it, so its index follows every
 * berth revision; other modules (kv, sessions) keep their keys under it too.
 */
export const STATE_PREFIX = '/berth/';

const PREFIXES: Record<Table, string> = {
  jobs: '/berth/jobs/',
  jobVersions: '/berth/job_versions/',
  allocs: '/berth/allocs/',
  nodes: '/berth/nodes/',
  evals: '/berth/evals/',
  services: '/berth/services/',
  deployments: '/berth/deployments/',
  runs: '/berth/runs/',
  aclPolicies: '/berth/acl/policies/',
  aclTokens: '/berth/acl/tokens/',
  aclBootstrap: '/berth/acl/bootstrap/',
  nodeSecrets: '/berth/node_secrets/',
  keyring: '/berth/keyring/',
  variables: '/berth/variables/',
  serviceAddresses: '/berth/service_addresses/',
  ingressClaims: '/berth/ingress_claims/',
};

/** The row id of a job's run: sorted by scheduled time within the job. */
export function runRowId(jobId: string, scheduledMs: number): string {
  return `${jobId}/${String(scheduledMs).padStart(15, '0')}`;
}

/** Zero-padded so that versions sort numerically as keys. */
const VERSION_DIGITS = 10;

/** The key prefix of a table's rows. */
export function tablePrefix(table: Table): string {
  return PREFIXES[table];
}

/**
 * The stored row id: the id itself, except for jobVersions where `<jobId>/<version>` becomes
 * `<jobId>/<version zero-padded to 10>`. Throws `invalid_input` for a malformed version id.
 */
export function rowId(table: Table, id: string): string {
  if (table !== 'jobVersions') return id;
  const slash = id.lastIndexOf('/');
  const version = slash > 0 ? id.slice(slash + 1) : '';
  if (!/^\d{1,10}$/.test(version)) {
    throw new BerthError('invalid_input', `Cannot address job version "${id}": expected <jobId>/<version>, version a non-negative integer`);
  }
  return versionRowId(id.slice(0, slash), Number(version));
}

/** The stored row id of a job's version. */
export function versionRowId(jobId: string, version: number): string {
  return `${jobId}/${String(version).padStart(VERSION_DIGITS, '0')}`;
}

/** The id callers use for a stored row id: job versions lose their padding. */
export function publicId(table: Table, row: string): string {
  if (table !== 'jobVersions') return row;
  const slash = row.lastIndexOf('/');
  return `${row.slice(0, slash)}/${Number(row.slice(slash + 1))}`;
}

/** The key of a row, from its public or stored id. */
export function keyOf(table: Table, id: string): string {
  return PREFIXES[table] + rowId(table, id);
}

/** The table and stored row id a key holds, or undefined for a key outside the tables. */
export function parseKey(key: string): { table: Table; row: string } | undefined {
  for (const table of TABLES) {
    const prefix = PREFIXES[table];
    if (key.startsWith(prefix) && key.length > prefix.length) return { table, row: key.slice(prefix.length) };
  }
  return undefined;
}
