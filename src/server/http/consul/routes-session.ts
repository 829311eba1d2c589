/** Consul's `/v1/session/*`: create, destroy, renew, info, list, node. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError } from '../../../model/index.ts';
import type { KvService, SessionCreate, SessionRecord } from '../../../kv/index.ts';
import { consulHeaders } from './routes-kv.ts';
import { parseWait } from '../blocking.ts';
import { acceptAnyJson } from './conventions.ts';
import { rule } from '../route-acl.ts';

// Sessions are one kind of object to ACLs: read or write them all (Consul scopes them by node, which berth's server-held sessions do not have).
const SESSION_READ = rule('sessions', 'read');
const SESSION_WRITE = rule('sessions', 'write');

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const NodeParams = Type.Object({ node: Type.String({ minLength: 1, maxLength: 256 }) });
const CreateBody = Type.Object(
  {
    Name: Type.Optional(Type.String({ maxLength: 256 })),
    Node: Type.Optional(Type.String({ maxLength: 256 })),
    LockDelay: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Number({ minimum: 0 })])),
    Behavior: Type.Optional(Type.String()),
    TTL: Type.Optional(Type.String({ maxLength: 32 })),
    Checks: Type.Optional(Type.Array(Type.String())),
    NodeChecks: Type.Optional(Type.Array(Type.String())),
    ServiceChecks: Type.Optional(Type.Array(Type.Object({ ID: Type.String(), Namespace: Type.Optional(Type.String()) }))),
    ID: Type.Optional(Type.String()),
    Namespace: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const ReadQuery = Type.Object({
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  wait: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m)?$' })),
  dc: Type.Optional(Type.String()),
  stale: Type.Optional(Type.String()),
  consistent: Type.Optional(Type.String()),
});

/** The session routes over the server's KV service. */
export function consulSessionRoutes(kv: KvService): FastifyPluginAsync {
  return async (app) => {
    acceptAnyJson(app);
    app.put('/v1/session/create', { schema: { body: CreateBody }, config: SESSION_WRITE }, async (request, reply) => {
      const { ID, index } = await kv.sessions.create(request.body as SessionCreate);
      consulHeaders(reply, index);
      return { ID };
    });

    app.put('/v1/session/destroy/:id', { schema: { params: IdParams }, config: SESSION_WRITE }, async (request) => {
      await kv.sessions.destroy((request.params as { id: string }).id);
      return true;
    });

    app.put('/v1/session/renew/:id', { schema: { params: IdParams }, config: SESSION_WRITE }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const s = kv.sessions.renew(id);
      if (!s) throw new BerthError('not_found', `Cannot renew session "${id}": it does not exist or has ended (create a new one)`);
      consulHeaders(reply, kv.store.sessionsIndex());
      return [s];
    });

    app.get('/v1/session/info/:id', { schema: { params: IdParams, querystring: ReadQuery }, config: SESSION_READ }, async (request, reply) => {
      const { id } = request.params as { id: string };
      await blockOnSessions(kv, request.query as { index?: number; wait?: string });
      consulHeaders(reply, kv.store.sessionsIndex());
      const s = kv.store.sessions.get(id);
      return s ? [s] : [];
    });

    app.get('/v1/session/list', { schema: { querystring: ReadQuery }, config: SESSION_READ }, async (request, reply) => {
      await blockOnSessions(kv, request.query as { index?: number; wait?: string });
      consulHeaders(reply, kv.store.sessionsIndex());
      return kv.sessions.list() satisfies SessionRecord[];
    });

    app.get('/v1/session/node/:node', { schema: { params: NodeParams, querystring: ReadQuery }, config: SESSION_READ }, async (request, reply) => {
      await blockOnSessions(kv, request.query as { index?: number; wait?: string });
      consulHeaders(reply, kv.store.sessionsIndex());
      return kv.sessions.list((request.params as { node: string }).node);
    });
  };
}

/** Session reads block on the sessions' index. */
async function blockOnSessions(kv: KvService, q: { index?: number; wait?: string }): Promise<void> {
  const min = q.index;
  if (min === undefined || min === 0 || kv.store.sessionsIndex() > min) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, parseWait(q.wait));
    const off = kv.store.onSessionChange(() => kv.store.sessionsIndex() > min && done());
    function done(): void {
      clearTimeout(timer);
      off();
      resolve();
    }
  });
}
