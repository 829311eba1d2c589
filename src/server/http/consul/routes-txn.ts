/**
 * Consul's `PUT /v1/txn`: up to 64 KV, Node, Service and Check operations, all applied in one
 * backend txn or none. Catalog operations act on berth's external registrations (services on the
 * server's node and their checks); the verbs that do not map onto them are refused with a 400
 * naming the operation (see `CATALOG_TXN_VERBS`).
 */
import type { FastifyPluginAsync } from 'fastify';
import { BerthError } from '../../../model/index.ts';
import { MAX_TXN_OPS, MAX_VALUE_BYTES, TXN_VERBS, type TxnKvOp, type TxnOp } from '../../../kv/index.ts';
import { isCatalogTxnOp, parseCatalogTxnOp, type CatalogTxnOp, type LocalNode } from '../../../discovery/catalog/index.ts';
import type { ServerContext } from '../../context.ts';
import { runConsulTxn } from '../../consul/index.ts';
import { consulHeaders, render } from './routes-kv.ts';
import { acceptAnyJson } from './conventions.ts';
import { authorize, denied } from '../acl-guard.ts';
import { IN_HANDLER, serviceOfCheck, serviceOfInstance } from '../route-acl.ts';
import type { Identity } from '../../acl/index.ts';
import { TXN_OP } from './field-names.ts';

/** The txn route over the server's KV service and catalog. */
export function consulTxnRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    acceptAnyJson(app);
    const { catalog, registry } = ctx.discovery;
    app.put('/v1/txn', { config: { ...IN_HANDLER, consulFields: TXN_OP } }, async (request, reply) => {
      const ops = parseOps(jsonOf(request.body), registry.node, ctx.clock.now());
      authorizeOps(request.identity, ops, ctx);
      const tooLarge = ops.findIndex((op) => 'KV' in op && op.KV.Value && Buffer.byteLength(op.KV.Value, 'base64') > MAX_VALUE_BYTES);
      if (tooLarge >= 0) {
        const err = new BerthError('invalid_input', `Cannot run the transaction: operation ${tooLarge} has a value over ${MAX_VALUE_BYTES} bytes (512 KiB)`);
        return reply.status(413).send(err.toJSON());
      }
      const out = await runConsulTxn({ kv: ctx.kv, view: ctx.view, catalog }, ops);
      if (!out.ok) return reply.status(409).send({ Results: null, Errors: out.errors });
      consulHeaders(reply, out.index);
      return { Results: out.results.map((r) => ('KV' in r ? { KV: render(r.KV) } : r.other)), Errors: null };
    });
  };
}

/** Consul clients often send JSON without a JSON content type: the body may arrive as text. */
function jsonOf(body: unknown): unknown {
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return body;
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new BerthError('invalid_input', 'Cannot run the transaction: the body is not valid JSON');
  }
}

/** Check the body's shape, with a path for every problem. */
function parseOps(body: unknown, local: LocalNode, now: number): TxnOp<CatalogTxnOp>[] {
  if (!Array.isArray(body)) throw new BerthError('invalid_input', 'Cannot run the transaction: the body must be a JSON array of operations such as [{"KV": {"Verb": "set", "Key": "k", "Value": "dg=="}}]');
  if (body.length > MAX_TXN_OPS) {
    throw new BerthError('invalid_input', `Cannot run the transaction: it has ${body.length} operations, the limit is ${MAX_TXN_OPS}; split it`);
  }
  return body.map((raw: unknown, i): TxnOp<CatalogTxnOp> => {
    const op = raw as { KV?: Record<string, unknown> } | null;
    const at = `[${i}]`;
    if (op && typeof op === 'object' && !op.KV && isCatalogTxnOp(op)) return { other: parseCatalogTxnOp(op as Record<string, unknown>, i, { local, now }) };
    const kv = op?.KV;
    if (!kv || typeof kv !== 'object') {
      const kind = op && typeof op === 'object' ? Object.keys(op)[0] : undefined;
      throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} is ${kind ? `a ${kind} operation, which berth does not know` : 'not an object'}; use KV, Node, Service or Check`, [{ path: at, message: 'must be a KV, Node, Service or Check operation' }]);
    }
    return { KV: parseKvOp(kv, i) };
  });
}

function parseKvOp(kv: Record<string, unknown>, i: number): TxnKvOp {
  const at = `[${i}]`;
  const verb = kv.Verb;
  if (typeof verb !== 'string' || !(TXN_VERBS as readonly string[]).includes(verb)) {
    throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} has verb ${JSON.stringify(verb)}; use one of ${TXN_VERBS.join(', ')}`, [{ path: `${at}.KV.Verb`, message: 'unknown verb' }]);
  }
  if (typeof kv.Key !== 'string' || (kv.Key === '' && verb !== 'get-tree' && verb !== 'delete-tree')) {
    throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} (${verb}) needs a Key`, [{ path: `${at}.KV.Key`, message: 'is required' }]);
  }
  if (kv.Value !== undefined && kv.Value !== null && (typeof kv.Value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(kv.Value))) {
    throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} has a Value that is not base64`, [{ path: `${at}.KV.Value`, message: 'must be base64' }]);
  }
  for (const f of ['Flags', 'Index'] as const) {
    if (kv[f] !== undefined && (!Number.isSafeInteger(kv[f]) || (kv[f] as number) < 0)) {
      throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} has ${f} ${JSON.stringify(kv[f])}; use a non-negative integer`, [{ path: `${at}.KV.${f}`, message: 'must be a non-negative integer' }]);
    }
  }
  const value = typeof kv.Value === 'string' && kv.Value !== '' ? kv.Value : null;
  return { Verb: verb, Key: kv.Key, Value: value, Flags: kv.Flags as number | undefined, Index: kv.Index as number | undefined, Session: kv.Session as string | undefined };
}

const KV_READ_VERBS: ReadonlySet<string> = new Set(['get', 'get-or-empty', 'check-index', 'check-session', 'check-not-exists']);

/**
 * Each operation needs its own right, all checked before any runs (Consul's rule): KV reads need
 * `read` on the key, a tree read or delete the capability on every key under the prefix, writes
 * `write`; catalog operations `read` or `write` on the service, `read` on the node.
 */
function authorizeOps(identity: Identity, ops: TxnOp<CatalogTxnOp>[], ctx: ServerContext): void {
  if (identity.authorizer.management) return;
  for (const op of ops) {
    if ('KV' in op) {
      const { Verb: verb, Key: key } = op.KV;
      if (verb === 'get-tree' || verb === 'delete-tree') {
        const cap = verb === 'get-tree' ? 'read' : 'write';
        if (!identity.authorizer.allowsUnder('kv', key, cap)) throw denied(identity, `kv: ${cap} on every key under "${key}"`);
      } else {
        authorize(identity, 'kv', key, KV_READ_VERBS.has(verb) ? 'read' : 'write');
      }
      continue;
    }
    const other = op.other;
    const cap = other.verb === 'get' ? 'read' : 'write';
    if (other.kind === 'Node') authorize(identity, 'nodes', other.name, 'read');
    else if (other.kind === 'Service') authorize(identity, 'services', 'instance' in other ? other.instance.name : serviceOfInstance(ctx.view, other.id), cap);
    else authorize(identity, 'services', ('serviceId' in other ? ctx.view.serviceInstance(other.serviceId)?.name : undefined) ?? serviceOfCheck(ctx.view, other.id), cap);
  }
}
