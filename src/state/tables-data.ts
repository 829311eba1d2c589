/**
 * The view's rows and secondary indexes, held in copy-on-write maps so that a snapshot is a fork
 * of a few arrays, plus the mutations that keep the indexes right.
 */
import type { Allocation, Evaluation, ServiceInstance } from '../model/index.ts';
import { CowMap } from './cow-map.ts';
import type { Table, TableRow } from './tables.ts';

/** Row ids of one index entry (say, the allocations of one node). */
export interface IdSet {
  /** The fork generation that created it; older sets may be held by a snapshot. */
  gen: number;
  ids: Set<string>;
  /** `ids` sorted, computed on first read. */
  sorted?: string[];
}

/** Everything a reader needs; a snapshot holds a frozen fork of it. */
export interface TablesData {
  rows: { [T in Table]: CowMap<TableRow[T]> };
  allocsByJob: CowMap<IdSet>;
  allocsByNode: CowMap<IdSet>;
  evalsByJob: CowMap<IdSet>;
  versionsByJob: CowMap<IdSet>;
  /** Service instances by service name and by node id. */
  servicesByName: CowMap<IdSet>;
  servicesByNode: CowMap<IdSet>;
  runsByJob: CowMap<IdSet>;
}

/** The sorted ids of an index entry (cached on the entry: entries held by forks never change). */
export function sortedIds(set: IdSet | undefined): readonly string[] {
  if (!set) return [];
  if (!set.sorted) set.sorted = [...set.ids].sort();
  return set.sorted;
}

/** The live tables of a view. */
export class MutableTables {
  readonly data: TablesData = {
    rows: {
      jobs: new CowMap(),
      jobVersions: new CowMap(),
      allocs: new CowMap(),
      nodes: new CowMap(),
      evals: new CowMap(),
      services: new CowMap(),
      deployments: new CowMap(),
      runs: new CowMap(),
      aclPolicies: new CowMap(),
      aclTokens: new CowMap(),
      aclBootstrap: new CowMap(),
      nodeSecrets: new CowMap(),
      keyring: new CowMap(),
      variables: new CowMap(),
      serviceAddresses: new CowMap(),
      ingressClaims: new CowMap(),
    },
    allocsByJob: new CowMap(),
    allocsByNode: new CowMap(),
    evalsByJob: new CowMap(),
    versionsByJob: new CowMap(),
    servicesByName: new CowMap(),
    servicesByNode: new CowMap(),
    runsByJob: new CowMap(),
  };
  private gen = 0;

  /** A frozen copy of the current tables; later writes here do not show in it. */
  fork(): TablesData {
    this.gen++;
    const d = this.data;
    return {
      rows: {
        jobs: d.rows.jobs.fork(),
        jobVersions: d.rows.jobVersions.fork(),
        allocs: d.rows.allocs.fork(),
        nodes: d.rows.nodes.fork(),
        evals: d.rows.evals.fork(),
        services: d.rows.services.fork(),
        deployments: d.rows.deployments.fork(),
        runs: d.rows.runs.fork(),
        aclPolicies: d.rows.aclPolicies.fork(),
        aclTokens: d.rows.aclTokens.fork(),
        aclBootstrap: d.rows.aclBootstrap.fork(),
        nodeSecrets: d.rows.nodeSecrets.fork(),
        keyring: d.rows.keyring.fork(),
        variables: d.rows.variables.fork(),
        serviceAddresses: d.rows.serviceAddresses.fork(),
        ingressClaims: d.rows.ingressClaims.fork(),
      },
      allocsByJob: d.allocsByJob.fork(),
      allocsByNode: d.allocsByNode.fork(),
      evalsByJob: d.evalsByJob.fork(),
      versionsByJob: d.versionsByJob.fork(),
      servicesByName: d.servicesByName.fork(),
      servicesByNode: d.servicesByNode.fork(),
      runsByJob: d.runsByJob.fork(),
    };
  }

  /** Store a row, moving it between index entries when its job or node changed. Returns the old row. */
  put<T extends Table>(table: T, row: string, value: TableRow[T]): TableRow[T] | undefined {
    const rows = this.data.rows[table] as CowMap<TableRow[T]>;
    const old = rows.get(row);
    rows.set(row, value);
    this.index(table, row, old, value);
    return old;
  }

  /** Remove a row and its index entries. Returns the removed row. */
  delete<T extends Table>(table: T, row: string): TableRow[T] | undefined {
    const rows = this.data.rows[table] as CowMap<TableRow[T]>;
    const old = rows.get(row);
    if (old === undefined) return undefined;
    rows.delete(row);
    this.index(table, row, old, undefined);
    return old;
  }

  private index(table: Table, row: string, old: TableRow[Table] | undefined, value: TableRow[Table] | undefined): void {
    const d = this.data;
    switch (table) {
      case 'allocs': {
        const before = old as Allocation | undefined;
        const after = value as Allocation | undefined;
        this.move(d.allocsByJob, row, before?.jobId, after?.jobId);
        this.move(d.allocsByNode, row, before?.nodeId, after?.nodeId);
        break;
      }
      case 'evals':
        this.move(d.evalsByJob, row, (old as Evaluation | undefined)?.jobId, (value as Evaluation | undefined)?.jobId);
        break;
      case 'jobVersions': {
        // The job id is part of the row id, so a version never moves between jobs.
        const jobId = row.slice(0, row.lastIndexOf('/'));
        this.move(d.versionsByJob, row, old ? jobId : undefined, value ? jobId : undefined);
        break;
      }
      case 'services': {
        const before = old as ServiceInstance | undefined;
        const after = value as ServiceInstance | undefined;
        this.move(d.servicesByName, row, before?.name, after?.name);
        this.move(d.servicesByNode, row, before?.nodeId, after?.nodeId);
        break;
      }
      case 'runs': {
        const jobId = row.slice(0, row.lastIndexOf('/'));
        this.move(d.runsByJob, row, old ? jobId : undefined, value ? jobId : undefined);
        break;
      }
      case 'jobs':
      case 'nodes':
      case 'deployments':
      case 'aclPolicies':
      case 'aclTokens':
      case 'aclBootstrap':
      case 'nodeSecrets':
      case 'keyring':
      case 'variables':
      case 'serviceAddresses':
      case 'ingressClaims':
        break;
    }
  }

  private move(index: CowMap<IdSet>, row: string, from: string | undefined, to: string | undefined): void {
    if (from === to) return;
    if (from !== undefined) this.edit(index, from, (ids) => ids.delete(row));
    if (to !== undefined) this.edit(index, to, (ids) => ids.add(row));
  }

  /** Change one index entry, copying it first if a fork may hold it. */
  private edit(index: CowMap<IdSet>, key: string, change: (ids: Set<string>) => void): void {
    let set = index.get(key);
    if (!set) {
      set = { gen: this.gen, ids: new Set() };
      index.set(key, set);
    } else if (set.gen !== this.gen) {
      set = { gen: this.gen, ids: new Set(set.ids) };
      index.set(key, set);
    } else {
      set.sorted = undefined;
    }
    change(set.ids);
    if (set.ids.size === 0) index.delete(key);
  }
}

