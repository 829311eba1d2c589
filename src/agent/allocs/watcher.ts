import type { BerthClient } from '../../api/index.ts';
import { backoffDelay, type Clock, type Logger } from '../../lib/index.ts';
import { isBerthError, type Allocation } from '../../model/index.ts';

/** What the allocation watch is given. */
export interface AllocWatchOptions {
  client: BerthClient;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
  /** Every answer: all the allocations the server has for this node. */
  onAllocs: (allocs: Allocation[]) => void;
  /** The server does not know this node (its state was reset): register again. */
  onUnknownNode: () => Promise<void>;
}

/**
 * A blocking query on this node's allocations, until the agent stops: each answer is handed on
 * whole (level-triggered: the receiver compares it with what runs, never with the last answer).
 */
export async function watchAllocs(o: AllocWatchOptions): Promise<void> {
  let index = 0;
  let failures = 0;
  while (!o.signal.aborted) {
    try {
      const res = await o.client.nodeAllocations(o.nodeId, { index, waitMs: 30_000, signal: o.signal });
      // An index that went backwards means the state was reset: start over.
      index = res.index < index ? 0 : res.index;
      failures = 0;
      o.onAllocs(res.value);
    } catch (err) {
      if (o.signal.aborted) return;
      // A refused re-registration (the id taken by another secret) is logged; the loop keeps trying.
      if (isBerthError(err, 'not_found')) await o.onUnknownNode().catch((e: unknown) => o.logger.error({ err: (e as Error).message }, 'cannot register again'));
      const delay = backoffDelay(failures++, { baseMs: 250, maxMs: 5000 });
      o.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'cannot read allocations from the server');
      await o.clock.sleep(delay, o.signal).catch(() => undefined);
    }
  }
}
