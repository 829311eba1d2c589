/**
 * Requests whose effect lives in the leader's memory, forwarded to the leader when they reach
 * another server, as Nomad and Consul forward RPCs: node heartbeats (the heartbeat timers), session
 * renewals (the session reaper), check updates (TTL expiry), and what lock-delay rules (session
 * destroys start it, lock acquires, also inside a txn, must respect it). Keeping these in memory instead of
 * writing each one to the state is what lets heartbeats scale (a write per heartbeat per node would
 * load etcd for nothing); the price is this one hop, and a new leader restarts every timer with a
 * full TTL plus grace, so nothing expires because the leader changed.
 */
import type { FastifyInstance } from 'fastify';
import { BerthError } from '../../model/index.ts';
import type { ServerContext } from '../context.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { NODE_SECRET_HEADER } from './acl-guard.ts';

/** Marks a forwarded request: the receiver handles it itself, whatever it thinks of the election. */
export const FORWARDED_HEADER = 'x-berth-forwarded-by';

/** Routes (method and route pattern) that the leader must see, and which of their requests (default all). */
const TO_LEADER = new Map<string, (query: Record<string, unknown>) => boolean>([
  ['PUT /v1/nodes/:id/heartbeat', () => true],
  // What the heartbeats above left in the leader's memory (GET /v1/nodes asks for it itself).
  ['GET /v1/nodes/heartbeats', () => true],
  ['PUT /v1/session/renew/:id', () => true],
  ['PUT /v1/session/destroy/:id', () => true],
  ['PUT /v1/kv/*', (query) => query.acquire !== undefined],
  // A txn may lock keys (lock-delay) and set TTL checks; Consul sends every txn to its leader too.
  ['PUT /v1/txn', () => true],
  ['PUT /v1/agent/check/pass/:id', () => true],
  ['PUT /v1/agent/check/warn/:id', () => true],
  ['PUT /v1/agent/check/fail/:id', () => true],
  ['PUT /v1/agent/check/update/:id', () => true],
  // The collector deletes through the leader's fenced store.
  ['PUT /v1/system/gc', () => true],
]);

/** Headers of the leader's answer passed back to the caller. */
const PASSED_BACK = ['content-type', 'x-berth-index', 'x-consul-index', 'x-consul-knownleader', 'x-consul-lastcontact'];

/** How long the leader may take to answer a forwarded request. */
const FORWARD_TIMEOUT_MS = 5000;

/** Add the forwarding hook to the app (at its root, so it sees every route). */
export function addLeaderForwarding(app: FastifyInstance, ctx: ServerContext): void {
  app.addHook('preHandler', async (request, reply) => {
    const cluster = ctx.cluster;
    if (cluster.isLeader || request.headers[FORWARDED_HEADER] !== undefined) return;
    const forwarded = TO_LEADER.get(`${request.method} ${request.routeOptions.url ?? ''}`);
    if (!forwarded?.((request.query ?? {}) as Record<string, unknown>)) return;
    const what = `Cannot ${request.method} ${request.url.split('?')[0]}`;
    const leader = cluster.leader;
    if (!leader) throw new BerthError('unavailable', `${what}: no server leads right now (an election is under way); retry in a few seconds`);
    const body = bodyOf(request.body);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: cluster.self.name, ...credentialsOf(request.headers) };
    if (body !== undefined) headers['content-type'] = String(request.headers['content-type'] ?? 'application/json');
    let res: Response;
    try {
      res = await ctx.peers.servers.fetch(`${leader.url}${request.url}`, { method: request.method, headers, body, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
    } catch (err) {
      throw new BerthError('unavailable', `${what}: the leader ${leader.name} at ${leader.url} did not answer (${(err as Error).message}); retry in a few seconds`);
    }
    for (const h of PASSED_BACK) {
      const v = res.headers.get(h);
      if (v !== null) void reply.header(h, v);
    }
    return reply.status(res.status).send(await res.text());
  });
}

/** The headers that say who a request is from, passed on so that the leader checks them too. */
const CREDENTIALS = ['authorization', 'x-berth-token', 'x-consul-token', NODE_SECRET_HEADER];

export function credentialsOf(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of CREDENTIALS) {
    const v = headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return out;
}

/** The request body as it came (KV values are raw bytes), or JSON again for a parsed one. */
function bodyOf(body: unknown): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  return JSON.stringify(body);
}
