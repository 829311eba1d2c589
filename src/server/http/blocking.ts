import type { FastifyReply, FastifyRequest } from 'fastify';
import { BerthError } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';

/** Longest wait a client may ask for, as Consul: 10 minutes. Default 5 minutes. */
const MAX_WAIT_MS = 600_000;
const DEFAULT_WAIT_MS = 300_000;

/** Parse `?wait=` (`30s`, `500ms`, `2m`, or bare seconds). */
export function parseWait(wait: string | undefined): number {
  if (wait === undefined || wait === '') return DEFAULT_WAIT_MS;
  const m = /^(\d+)(ms|s|m)?$/.exec(wait);
  if (!m) throw new BerthError('invalid_input', `Cannot parse wait "${wait}": use a duration such as 30s, 500ms or 2m`, [{ path: 'wait', message: 'invalid duration' }]);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  return Math.min(ms, MAX_WAIT_MS);
}

/**
 * A blocking query: when the client sends `?index=N`, wait until `indexOf()` moves past N (or
 * the wait ends, or the client goes away), then answer. The index goes back in X-Berth-Index.
 * `indexOf` is recomputed on every state change, so a query wakes only for what it reads.
 */
// eslint-disable-next-line berth/exported-max-params -- (request, reply) is Fastify's pair for one exchange, read as one
export async function blockingQuery(
  view: StateView,
  request: FastifyRequest,
  reply: FastifyReply,
  indexOf: () => number,
): Promise<void> {
  const query = request.query as { index?: number; wait?: string };
  const min = query.index;
  if (min !== undefined && min > 0 && indexOf() <= min) {
    const waitMs = parseWait(query.wait);
    // Spread wakeups of many clients waiting on the same wait time, as Consul does (wait/16).
    const jittered = waitMs + Math.floor(Math.random() * (waitMs / 16));
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        unsubscribe();
        reply.raw.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, jittered);
      const unsubscribe = view.onChange(() => {
        if (indexOf() > min) done();
      });
      reply.raw.on('close', done);
    });
  }
  reply.header('x-berth-index', String(Math.max(1, indexOf())));
}
