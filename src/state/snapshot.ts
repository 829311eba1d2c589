/**
 * Reads over the typed tables, shared by the live view and its snapshots. Rows handed out are
 * shared and (by default) deep-frozen: treat them as immutable. Lists are fresh arrays sorted by
 * id, so the same state reads the same on every server.
 */
import type { AclBootstrap, AclPolicy, AclToken, Allocation, Deployment, Evaluation, IngressClaimRow, Job, JobRun, KeyringKey, Node, NodeSecret, ServiceAddress, ServiceInstance, StoredVariable } from '../model/index.ts';
import { sortedIds, type IdSet, type TablesData } from './tables-data.ts';
import { runRowId, versionRowId, type Table } from './tables.ts';
import type { CowMap } from './cow-map.ts';

/** Read access to the tables at one revision (`index`), or at the latest (the view). */
export class StateReader {
  protected tables: TablesData;
  protected current: number;

  protected constructor(tables: TablesData, index: number) {
    this.tables = tables;
    this.current = index;
  }

  /** The backend revision the reads reflect. */
  get index(): number {
    return this.current;
  }

  /** The job as currently registered, undefined once purged. */
  job(id: string): Job | undefined {
    return this.tables.rows.jobs.get(id);
  }

  /** How many rows a table holds (the state's size, for metrics). */
  rowCount(table: Table): number {
    return this.tables.rows[table].size;
  }

  /** Every job, by id. */
  jobs(): Job[] {
    return this.tables.rows.jobs.sortedValues().slice();
  }

  /** One stored version of a job. */
  jobVersion(jobId: string, version: number): Job | undefined {
    return this.tables.rows.jobVersions.get(versionRowId(jobId, version));
  }

  /** Every stored version of a job, newest first. */
  jobVersions(jobId: string): Job[] {
    return this.lookup(this.tables.rows.jobVersions, this.tables.versionsByJob.get(jobId)).reverse();
  }

  /** The ids of the jobs that have stored versions, purged jobs' leftovers included, sorted. */
  jobIdsWithVersions(): string[] {
    return [...this.tables.versionsByJob.keys()].sort();
  }

  /** The ids of the jobs that have run rows, purged templates' leftovers included, sorted. */
  jobIdsWithRuns(): string[] {
    return [...this.tables.runsByJob.keys()].sort();
  }

  alloc(id: string): Allocation | undefined {
    return this.tables.rows.allocs.get(id);
  }

  /** Every allocation, by id. */
  allocs(): Allocation[] {
    return this.tables.rows.allocs.sortedValues().slice();
  }

  /** Every allocation of a job, terminal ones included, by id. */
  allocsByJob(jobId: string): Allocation[] {
    return this.lookup(this.tables.rows.allocs, this.tables.allocsByJob.get(jobId));
  }

  /** Every allocation on a node, terminal ones included, by id. */
  allocsByNode(nodeId: string): Allocation[] {
    return this.lookup(this.tables.rows.allocs, this.tables.allocsByNode.get(nodeId));
  }

  node(id: string): Node | undefined {
    return this.tables.rows.nodes.get(id);
  }

  /** Every node, whatever its status, by id. */
  nodes(): Node[] {
    return this.tables.rows.nodes.sortedValues().slice();
  }

  eval(id: string): Evaluation | undefined {
    return this.tables.rows.evals.get(id);
  }

  /** Every evaluation, by id. */
  evals(): Evaluation[] {
    return this.tables.rows.evals.sortedValues().slice();
  }

  /** Every evaluation of a job, by id. */
  evalsByJob(jobId: string): Evaluation[] {
    return this.lookup(this.tables.rows.evals, this.tables.evalsByJob.get(jobId));
  }

  /** One service instance of the catalog. */
  serviceInstance(id: string): ServiceInstance | undefined {
    return this.tables.rows.services.get(id);
  }

  /** Every service instance, by id. */
  serviceInstances(): ServiceInstance[] {
    return this.tables.rows.services.sortedValues().slice();
  }

  /** The instances of one service, by id. */
  instancesOf(name: string): ServiceInstance[] {
    return this.lookup(this.tables.rows.services, this.tables.servicesByName.get(name));
  }

  /** The instances on one node, by id. */
  instancesOnNode(nodeId: string): ServiceInstance[] {
    return this.lookup(this.tables.rows.services, this.tables.servicesByNode.get(nodeId));
  }

  /** The names of every service with at least one instance, sorted. */
  serviceNames(): string[] {
    return [...this.tables.servicesByName.keys()].sort();
  }

  deployment(id: string): Deployment | undefined {
    return this.tables.rows.deployments.get(id);
  }

  /** The deployments of a job, newest first (few per job: the watcher deletes old ones). */
  deploymentsByJob(jobId: string): Deployment[] {
    return this.tables.rows.deployments
      .sortedValues()
      .filter((d) => d.jobId === jobId)
      .sort((a, b) => b.jobVersion - a.jobVersion || b.createTime - a.createTime);
  }

  /** The newest deployment of a job, whatever its status. */
  latestDeployment(jobId: string): Deployment | undefined {
    return this.deploymentsByJob(jobId)[0];
  }

  /** Every deployment, by id. */
  deployments(): Deployment[] {
    return this.tables.rows.deployments.sortedValues().slice();
  }

  /** The runs of a periodic, parameterized or dependent job, oldest first. */
  runsByJob(jobId: string): JobRun[] {
    return this.lookup(this.tables.rows.runs, this.tables.runsByJob.get(jobId));
  }

  /** One run of a job, by its scheduled time. */
  run(jobId: string, scheduledMs: number): JobRun | undefined {
    return this.tables.rows.runs.get(runRowId(jobId, scheduledMs));
  }

  /** One ACL policy, by name. */
  aclPolicy(name: string): AclPolicy | undefined {
    return this.tables.rows.aclPolicies.get(name);
  }

  /** Every ACL policy, by name. */
  aclPolicies(): AclPolicy[] {
    return this.tables.rows.aclPolicies.sortedValues().slice();
  }

  /** One ACL token, by accessor id. */
  aclToken(accessorId: string): AclToken | undefined {
    return this.tables.rows.aclTokens.get(accessorId);
  }

  /** Every ACL token, by accessor id. */
  aclTokens(): AclToken[] {
    return this.tables.rows.aclTokens.sortedValues().slice();
  }

  /** The record of the ACL bootstrap, undefined until it happened. */
  aclBootstrap(): AclBootstrap | undefined {
    return this.tables.rows.aclBootstrap.get('bootstrap');
  }

  /** The secret a node registered with. */
  nodeSecret(nodeId: string): NodeSecret | undefined {
    return this.tables.rows.nodeSecrets.get(nodeId);
  }

  /** One key of the keyring, by id. */
  keyringKey(id: string): KeyringKey | undefined {
    return this.tables.rows.keyring.get(id);
  }

  /** Every service address, by address. */
  serviceAddresses(): ServiceAddress[] {
    return this.tables.rows.serviceAddresses.sortedValues().slice();
  }

  /** Every ingress route claim, by claim id. */
  ingressClaims(): IngressClaimRow[] {
    return this.tables.rows.ingressClaims.sortedValues().slice();
  }

  /** One ingress route claim, by claim id (`ingressClaimId`). */
  ingressClaim(id: string): IngressClaimRow | undefined {
    return this.tables.rows.ingressClaims.get(id);
  }

  /** Every key of the keyring, by id. */
  keyringKeys(): KeyringKey[] {
    return this.tables.rows.keyring.sortedValues().slice();
  }

  /** One variable as stored (encrypted), by path. */
  variable(path: string): StoredVariable | undefined {
    return this.tables.rows.variables.get(path);
  }

  /** Every variable as stored, sorted by path. */
  variables(): StoredVariable[] {
    return this.tables.rows.variables.sortedValues().slice();
  }

  private lookup<V>(rows: CowMap<V>, set: IdSet | undefined): V[] {
    return sortedIds(set).map((id) => rows.get(id)!);
  }
}

/**
 * The state at one revision. It never changes, however far the view moves on; taking one is
 * cheap (the view copies only what it writes next). Implements the scheduler's `State`.
 */
export class StateSnapshot extends StateReader {
  /** @internal Snapshots come from `StateView.snapshot()`. */
  constructor(tables: TablesData, index: number) {
    super(tables, index);
  }
}
