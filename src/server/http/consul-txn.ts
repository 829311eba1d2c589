/**
 * Consul's `PUT /v1/txn` for KV operations: up to 64, all applied in one backend txn or none.
 * Node, Service and Check operations are refused with a clear message (berth's catalog is fed
 * by allocations and agents).
 */
import type { FastifyPluginAsync } from 'fastify';
import { BerthError } from '../../model/index.ts';
import { MAX_TXN_OPS, MAX_VALUE_BYTES, TXN_VERBS, type KvService, type TxnKvOp } from '../../kv/index.ts';
import { consulHeaders, render } from './consul-kv.ts';
import { acceptAnyJson } from './consul-common.ts';

/** The txn route over the server's KV service. */
export function consulTxnRoutes(kv: KvService): FastifyPluginAsync {
  return async (app) => {
    acceptAnyJson(app);
    app.put('/v1/txn', async (request, reply) => {
      const ops = parseOps(jsonOf(request.body));
      const tooLarge = ops.findIndex((op) => op.Value && Buffer.byteLength(op.Value, 'base64') > MAX_VALUE_BYTES);
      if (tooLarge >= 0) {
        const err = new BerthError('invalid_input', `Cannot run the transaction: operation ${tooLarge} has a value over ${MAX_VALUE_BYTES} bytes (512 KiB)`);
        return reply.status(413).send(err.toJSON());
      }
      const out = await kv.txn(ops);
      if (!out.ok) return reply.status(409).send({ Results: null, Errors: out.errors });
      consulHeaders(reply, out.index);
      return { Results: out.results.map((e) => ({ KV: render(e) })), Errors: null };
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
function parseOps(body: unknown): TxnKvOp[] {
  if (!Array.isArray(body)) throw new BerthError('invalid_input', 'Cannot run the transaction: the body must be a JSON array of operations such as [{"KV": {"Verb": "set", "Key": "k", "Value": "dg=="}}]');
  if (body.length > MAX_TXN_OPS) {
    throw new BerthError('invalid_input', `Cannot run the transaction: it has ${body.length} operations, the limit is ${MAX_TXN_OPS}; split it`);
  }
  return body.map((raw, i) => {
    const op = raw as { KV?: Record<string, unknown> } | null;
    const kv = op?.KV;
    const at = `[${i}]`;
    if (!kv || typeof kv !== 'object') {
      const kind = op && typeof op === 'object' ? Object.keys(op)[0] : undefined;
      throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} is ${kind ? `a ${kind} operation` : 'not an object'}; berth supports KV operations only`, [{ path: at, message: 'KV operations only' }]);
    }
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
  });
}
