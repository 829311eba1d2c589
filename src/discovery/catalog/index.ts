/** The service catalog: instances and health in the state, kept in step with allocations, in Consul's shapes. */
export { Catalog, type InstanceQuery } from './catalog.ts';
export { CatalogSync, type CatalogSyncOptions } from './sync.ts';
export { CatalogRegistry, findCheck, type CatalogRegistryOptions, type LocalNode } from './registry.ts';
export { allocServing, deriveInstances } from './derive.ts';
export {
  catalogNodeOf,
  consulCatalogService,
  consulCheck,
  consulNode,
  consulService,
  goDuration,
  parseGoDuration,
  serfHealth,
  type CatalogNode,
} from './consul-json.ts';
export { compileFilter } from './filter.ts';
export { instanceFromConsul } from './external.ts';
export { ExternalChecks } from './external-checks.ts';
export { CATALOG_TXN_VERBS, isCatalogTxnOp, parseCatalogTxnOp, type CatalogTxnOp } from './catalog-txn-ops.ts';
export { CatalogTxnAttempt, type CatalogOpOutcome, type CatalogTxnResult } from './catalog-txn.ts';
