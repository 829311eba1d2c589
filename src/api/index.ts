/** The wire contract: types, schemas, the code -> HTTP status table, and the typed client. */
export { BerthClient } from './client.ts';
export type { ClientOptions, BlockingOptions } from './client.ts';
export { DiscoveryClient } from './discovery-client.ts';
export type { ConsulKvEntry, ConsulSession, ConsulCheck, ConsulHealthEntry, StreamEvent, StreamFrame } from './discovery-client.ts';
export { ServerPool, parseAddresses, DEFAULT_ADDRESS } from './server-pool.ts';
export type { PoolRequest, ServerPoolOptions } from './server-pool.ts';
export { plainTransport, setDefaultTransport, defaultTransport } from './transport.ts';
export type { Transport, WsTlsOptions } from './transport.ts';
export { httpStatusOf, codeOfHttpStatus } from './status.ts';
export * from './schemas.ts';
export type * from './types.ts';
