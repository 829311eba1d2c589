import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CAPABILITIES } from '../../acl/index.ts';
import { BerthError, type AclScope, type ErrorDetail } from '../../model/index.ts';
import type { Identity } from '../acl/index.ts';
import type { ServerContext } from '../context.ts';
import { ANY_TOKEN, PUBLIC, rule } from './route-acl.ts';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
const AccessorParams = Type.Object({ accessor: Type.String({ minLength: 1, maxLength: 64 }) });
const TokenBody = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    type: Type.Optional(Type.Union([Type.Literal('client'), Type.Literal('management')])),
    policies: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 64 })),
    expirationTtl: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$', maxLength: 16 })),
  },
  { additionalProperties: false },
);
type TokenBodyT = { description?: string; type?: 'client' | 'management'; policies?: string[]; expirationTtl?: string };
const PolicyBody = Type.Object(
  { rules: Type.String({ minLength: 1, maxLength: 256 * 1024 }), description: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false },
);

const AuthorizeBody = Type.Object(
  {
    checks: Type.Array(
      Type.Object(
        {
          scope: Type.Union(Object.keys(CAPABILITIES).map((k) => Type.Literal(k))),
          name: Type.Optional(Type.String({ maxLength: 512 })),
          capability: Type.String({ minLength: 1, maxLength: 64 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
  },
  { additionalProperties: false },
);
type Check = { scope: AclScope; name?: string; capability: string };

/**
 * What the caller's token may do, one answer per check (Consul's UI asks the same of
 * `/v1/internal/acl/authorize`): on the object `name`, or, without a name, on any object of the
 * scope. The web UI offers only the actions these allow. A capability the scope does not have is
 * a 400 naming the check, not a quiet "no".
 */
function authorizeChecks(identity: Identity, checks: Check[]): { allowed: boolean[] } {
  const wrong: ErrorDetail[] = checks.flatMap((c, i) =>
    CAPABILITIES[c.scope].includes(c.capability) ? [] : [{ path: `checks[${i}].capability`, message: `"${c.capability}" is not a capability of ${c.scope} (one of ${CAPABILITIES[c.scope].join(', ')})` }],
  );
  if (wrong.length > 0) throw new BerthError('invalid_input', `Invalid request body: ${wrong[0].path}: ${wrong[0].message}`, wrong);
  const a = identity.authorizer;
  return { allowed: checks.map((c) => (c.name === undefined ? a.allowsAny(c.scope, c.capability) : a.allows(c.scope, c.name, c.capability))) };
}

const ACL_READ = rule('acl', 'read');
const ACL_WRITE = rule('acl', 'write');

/** `/v1/acl/*`: bootstrap, policies, tokens (Nomad's routes, berth's shapes). */
export function aclRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    // Public: it works once, and after that only through the reset file on the server.
    app.post('/v1/acl/bootstrap', { config: PUBLIC }, async () => ctx.acl.bootstrap());

    app.get('/v1/acl/policies', { config: ACL_READ }, async () => ctx.acl.policies().map(({ rules: _rules, source: _source, ...rest }) => rest));
    app.get('/v1/acl/policy/:name', { schema: { params: NameParams }, config: ACL_READ }, async (request) => ctx.acl.policy((request.params as { name: string }).name));
    // The body is `{rules, description}` with the policy document (YAML or JSON) as a string in `rules`.
    app.post('/v1/acl/policy/:name', { schema: { params: NameParams, body: PolicyBody }, config: ACL_WRITE }, async (request) => {
      const { rules, description } = request.body as { rules: string; description?: string };
      return ctx.acl.applyPolicy((request.params as { name: string }).name, rules, description);
    });
    app.delete('/v1/acl/policy/:name', { schema: { params: NameParams }, config: ACL_WRITE }, async (request) => {
      await ctx.acl.deletePolicy((request.params as { name: string }).name);
      return { deleted: true };
    });

    app.get('/v1/acl/tokens', { config: ACL_READ }, async () => ctx.acl.tokens());
    app.get('/v1/acl/token/self', { config: ANY_TOKEN }, async (request) => ctx.acl.self(request.identity));
    app.post('/v1/acl/authorize', { schema: { body: AuthorizeBody }, config: ANY_TOKEN }, async (request) => authorizeChecks(request.identity, (request.body as { checks: Check[] }).checks));
    app.post('/v1/acl/token', { schema: { body: TokenBody }, config: ACL_WRITE }, async (request) => ctx.acl.createToken(tokenRequest(request.body as TokenBodyT)));
    app.get('/v1/acl/token/:accessor', { schema: { params: AccessorParams }, config: ACL_READ }, async (request) => ctx.acl.token((request.params as { accessor: string }).accessor));
    app.post('/v1/acl/token/:accessor', { schema: { params: AccessorParams, body: TokenBody }, config: ACL_WRITE }, async (request) =>
      ctx.acl.updateToken((request.params as { accessor: string }).accessor, tokenRequest(request.body as TokenBodyT)),
    );
    app.delete('/v1/acl/token/:accessor', { schema: { params: AccessorParams }, config: ACL_WRITE }, async (request) => {
      await ctx.acl.deleteToken((request.params as { accessor: string }).accessor);
      return { deleted: true };
    });
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function tokenRequest(body: TokenBodyT): { description?: string; type?: 'client' | 'management'; policies?: string[]; expirationTtlMs?: number } {
  const { expirationTtl, ...rest } = body;
  if (expirationTtl === undefined) return rest;
  const [, n, unit] = /^([0-9]+)(ms|s|m|h|d)$/.exec(expirationTtl)!;
  const ms = Number(n) * UNIT_MS[unit];
  if (ms <= 0) throw new BerthError('invalid_input', 'Invalid expirationTtl: must be more than 0 (e.g. 1h, 30d)', [{ path: 'expirationTtl', message: 'must be positive' }]);
  return { ...rest, expirationTtlMs: ms };
}
