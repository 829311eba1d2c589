import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The agent endpoint's refusal of a caller that is not a server. */
export const NOT_A_SERVER = {
  error: { code: 'forbidden', message: 'Permission denied: only berth servers may call an agent (they show its node secret); go through the server API', details: [] },
};

/** Does the request show the node's secret? Always true when the agent has none (tests). */
export function nodeSecretMatches(secret: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (secret === undefined) return true;
  const given = headers['x-berth-node-secret'];
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}
