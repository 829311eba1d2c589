/**
 * The leader's writes, fenced: every txn also compares the leader key with the term this server
 * won, so that a deposed leader (paused, cut off, its lease gone) cannot land a plan or a launch
 * that the new leader makes too. Nothing the control loops decide runs twice.
 */
import { BerthError } from '../../model/index.ts';
import type { Compare, StateBackend, TxnRequest, TxnResult } from '../../state/index.ts';

/**
 * `backend` with `fence()` added to the compares of every txn. A txn that fails on the fence
 * throws `conflict` (its other compares are not looked at); everything else passes through.
 */
export function fencedBackend(backend: StateBackend, fence: () => Compare[]): StateBackend {
  const txn = async (request: TxnRequest): Promise<TxnResult> => {
    const extra = fence();
    const failure = request.failure ?? [];
    const res = await backend.txn({
      compare: [...request.compare, ...extra],
      success: request.success,
      failure: [...failure, ...extra.map((c) => ({ type: 'range' as const, selector: { key: c.key } }))],
    });
    if (res.succeeded) return res;
    const held = extra.every((c, i) => holds(c, res.responses[failure.length + i]?.kvs[0]?.createRevision ?? 0, res.responses[failure.length + i]?.kvs[0]?.modRevision ?? 0));
    if (!held) throw new BerthError('conflict', 'Cannot commit: this server is no longer the leader (another server took over); the new leader redoes the work');
    return { ...res, responses: res.responses.slice(0, failure.length) };
  };
  return new Proxy(backend, {
    get(target, prop) {
      if (prop === 'txn') return txn;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Whether a fence compare (on createRevision or modRevision) holds for the key as read. */
function holds(c: Compare, createRevision: number, modRevision: number): boolean {
  if (c.target !== 'createRevision' && c.target !== 'modRevision') return false;
  const actual = c.target === 'createRevision' ? createRevision : modRevision;
  switch (c.op) {
    case '=':
      return actual === c.value;
    case '!=':
      return actual !== c.value;
    case '<':
      return actual < c.value;
    case '>':
      return actual > c.value;
  }
}
