/**
 * Translation between the StateBackend contract and etcd's gRPC messages (as the `etcd3` client
 * decodes them: int64 as decimal strings, bytes as Buffers), and from etcd errors to ours.
 */
import type { ICompare, IKeyValue, IRangeResponse, IRequestOp, IResponseOp } from 'etcd3';
import { BerthError } from '../model/index.ts';
import { CompactedError, prefixEnd } from './backend.ts';
import type { Compare, KeySelector, KeyValue, Op, RangeResult } from './backend.ts';

/** etcd's key range for a selector: one key, or [prefix, end). A `\0` end means "to the last key". */
export function keyRange(selector: KeySelector): { key: Buffer; range_end?: Buffer } {
  if ('key' in selector) return { key: Buffer.from(selector.key) };
  const end = prefixEnd(selector.prefix);
  // An empty key is not allowed; `\0` is the smallest one and, as range_end, means "no end".
  const key = selector.prefix === '' ? Buffer.from([0]) : Buffer.from(selector.prefix);
  return { key, range_end: end === undefined ? Buffer.from([0]) : Buffer.from(end) };
}

/** A decoded etcd key. */
export function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: Number(kv.lease),
  };
}

/** A decoded range response; `revision` is the store's revision when read. */
export function toRangeResult(res: IRangeResponse, revision: number): RangeResult {
  return { kvs: res.kvs.map(toKeyValue), count: Number(res.count), revision };
}

const RESULTS = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

/** An etcd compare for one of ours. */
export function toCompare(c: Compare): ICompare {
  const base = { key: Buffer.from(c.key), result: RESULTS[c.op] };
  switch (c.target) {
    case 'value':
      return { ...base, target: 'Value', value: Buffer.from(c.value) };
    case 'version':
      return { ...base, target: 'Version', version: c.value };
    case 'createRevision':
      return { ...base, target: 'Create', create_revision: c.value };
    case 'modRevision':
      return { ...base, target: 'Mod', mod_revision: c.value };
  }
}

/** An etcd request op for one of ours. */
export function toRequestOp(op: Op): IRequestOp {
  switch (op.type) {
    case 'put':
      return { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), lease: op.lease ?? 0 } };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case 'deletePrefix':
      return { request_delete_range: keyRange({ prefix: op.prefix }) };
    case 'range':
      return { request_range: keyRange(op.selector) };
  }
}

/** What one txn op answered: a range result for a range, else null. */
export function toOpResult(res: IResponseOp, revision: number): RangeResult | null {
  const range = (res as IResponseOp & { response?: string }).response === 'response_range' ? res.response_range : undefined;
  return range ? toRangeResult(range, revision) : null;
}

/**
 * Whether a failed call certainly never reached etcd (no connection, or a member the client has
 * stopped trying for a while), so even a write may be sent again to another member.
 */
export function neverSent(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /No connection established|ECONNREFUSED|circuit breaker is open|Stream refused by server/i.test(message);
}

/** Whether a failed read is worth another try: the cluster was unreachable, leaderless or slow. */
export function retryableRead(err: unknown): boolean {
  return err instanceof Error && !(err instanceof BerthError) && isUnavailable(err);
}

/** Whether an error says the etcd cluster could not be reached or could not answer. */
function isUnavailable(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    /GRPCUnavailable|GRPCDeadlineExceeded|GRPCCancelled|BrokenCircuit|ClientClosed/.test(err.constructor.name) ||
    code === 14 ||
    code === 4 ||
    /no leader|leader changed|timed out|not capable|connect|ECONNREFUSED|UNAVAILABLE|DEADLINE_EXCEEDED/i.test(err.message)
  );
}

/**
 * Our error for an etcd failure while doing `what` ("read revision 7", "commit a txn"). A compacted
 * read carries the compact revision when it is known, else the lowest it can be (`requested + 1`).
 */
export function fromEtcdError(err: unknown, what: string, context: { requested?: number; compactRevision?: number } = {}): Error {
  if (err instanceof BerthError || err instanceof CompactedError) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  const message = error.message.replace(/^[A-Za-z]+Error: /, '');
  if (/required revision has been compacted/.test(message)) {
    const requested = context.requested ?? 0;
    return new CompactedError(requested, Math.max(context.compactRevision ?? 0, requested + 1));
  }
  if (/future revision/.test(message)) return new BerthError('invalid_input', `Cannot ${what}: the revision is newer than the latest (${message})`);
  if (/duplicate key given in txn request/.test(message)) {
    return new BerthError('invalid_input', `Cannot ${what}: a txn branch writes the same key twice (${message})`);
  }
  if (/too many operations in txn request/.test(message)) {
    return new BerthError('invalid_input', `Cannot ${what}: too many ops in one txn; raise etcd's --max-txn-ops (${message})`);
  }
  if (/Received message larger than max/i.test(message)) {
    return new BerthError('unavailable', `Cannot ${what}: etcd's answer is larger than this client accepts (${message})`);
  }
  if (/request is too large|message larger than max/i.test(message)) {
    return new BerthError('invalid_input', `Cannot ${what}: the request is too large; raise etcd's --max-request-bytes (${message})`);
  }
  if (/requested lease not found/.test(message)) return new BerthError('not_found', `Cannot ${what}: no such lease (it expired or was revoked)`);
  if (/DEADLINE_EXCEEDED|deadline exceeded/i.test(message) || (error as { code?: unknown }).code === 4) {
    // A write that timed out may still be applied: callers re-read (or rely on their compares).
    return new BerthError('timeout', `Cannot ${what}: etcd did not answer in time, so it may or may not have happened (${message})`);
  }
  if (isUnavailable(error)) return new BerthError('unavailable', `Cannot ${what}: etcd is unavailable (${message})`);
  return new BerthError('internal', `Cannot ${what}: etcd failed (${message})`);
}
