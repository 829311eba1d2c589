/** Domain types shared by every layer. No I/O. */
export type * from './job.ts';
export type * from './node.ts';
export type * from './alloc.ts';
export type * from './eval.ts';
export type { KvEntry } from './kv.ts';
export type * from './service.ts';
export type * from './stats.ts';
export type * from './job-diff.ts';
export type * from './deployment.ts';
export type * from './acl.ts';
export { aggregateStatus } from './service.ts';
export { isTerminal, isClientTerminal } from './alloc.ts';
export { allocsFit } from './fit.ts';
export type { FitResult } from './fit.ts';
export { BerthError, isBerthError } from './errors.ts';
export { findByIdPrefix } from './prefix.ts';
export type { PrefixOptions } from './prefix.ts';
export type { ErrorCode, ErrorDetail } from './errors.ts';
