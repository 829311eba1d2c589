import type { BerthClient } from '../../api/index.ts';
import { backoffDelay, type Clock, type Logger } from '../../lib/index.ts';
import type { IngressDataPath } from './data-path.ts';
import { ingressPlan } from './ingress-plan.ts';

/** What the ingress's watch is given. */
export interface IngressFollowOptions {
  client: BerthClient;
  dataPath: IngressDataPath;
  clock: Clock;
  logger: Logger;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
}

/**
 * A blocking query on `GET /v1/ingress` (routes, instances and their health in one answer),
 * until the agent stops; each answer is applied whole to the data path (level-triggered: the
 * data path compares it with what it has). A check that turns critical moves the service's
 * index, so an instance leaves the rotation within one round trip of the catalog's change.
 */
export async function followIngress(o: IngressFollowOptions): Promise<void> {
  let index = 0;
  let failures = 0;
  while (!o.signal.aborted) {
    try {
      const res = await o.client.ingressStatus({ index, waitMs: 30_000, signal: o.signal });
      await o.dataPath.apply(ingressPlan(res.value));
      // Moved on only once applied, so that a failed apply is tried again (after the backoff) on a fresh answer.
      // An index that went backwards means the state was reset: start over.
      index = res.index < index ? 0 : res.index;
      failures = 0;
    } catch (err) {
      if (o.signal.aborted) return;
      const delay = backoffDelay(failures++, { baseMs: 250, maxMs: 5000 });
      o.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'ingress: cannot follow the routes');
      await o.clock.sleep(delay, o.signal).catch(() => undefined);
    }
  }
}
