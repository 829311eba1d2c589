/**
 * Consul's `/v1/kv/*`: reads (recurse, keys, separator, raw, blocking per key or prefix), PUT with
 * cas, flags, acquire and release, DELETE with recurse and cas. Values travel as raw bodies.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError } from '../../../model/index.ts';
import { MAX_VALUE_BYTES, ValueTooLargeError, checkKey, toValue, type KvEntry, type KvService } from '../../../kv/index.ts';
import { parseWait } from '../blocking.ts';
import { flag } from './conventions.ts';
import { denied, mayRead } from '../acl-guard.ts';
import { rule } from '../route-acl.ts';

const KvQuery = Type.Object({
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  wait: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m)?$' })),
  recurse: Type.Optional(Type.String()),
  keys: Type.Optional(Type.String()),
  raw: Type.Optional(Type.String()),
  separator: Type.Optional(Type.String({ maxLength: 64 })),
  cas: Type.Optional(Type.Integer({ minimum: 0 })),
  flags: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  acquire: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  release: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  dc: Type.Optional(Type.String()),
  ns: Type.Optional(Type.String()),
  stale: Type.Optional(Type.String()),
  consistent: Type.Optional(Type.String()),
});

interface KvQueryT {
  index?: number;
  wait?: string;
  recurse?: string;
  keys?: string;
  raw?: string;
  separator?: string;
  cas?: number;
  flags?: number;
  acquire?: string;
  release?: string;
}

/** Bodies above the value limit still reach the route, so it can answer 413 with a clear message. */
const BODY_LIMIT = 8 * MAX_VALUE_BYTES;

/** Consul's headers on every KV answer. */
export function consulHeaders(reply: FastifyReply, index: number): void {
  reply.header('x-consul-index', String(Math.max(1, index)));
  reply.header('x-consul-knownleader', 'true');
  reply.header('x-consul-lastcontact', '0');
}

/** The KV routes over the server's KV service. */
// eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
export function consulKvRoutes(kv: KvService): FastifyPluginAsync {
  // eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
  return async (app) => {
    // Values are raw bytes whatever the content type: take every body as a buffer, in this scope only.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

    app.get('/v1/kv/*', { schema: { querystring: KvQuery }, config: KV_READ }, async (request, reply) => {
      const key = keyOf(request);
      const q = request.query as KvQueryT;
      const listing = flag(q.keys);
      const prefix = listing || flag(q.recurse);
      // This server's own writes to what is read, answered before its mirror applied them.
      await kv.store.settled(key, prefix);
      if (q.index !== undefined && q.index > 0) {
        const abort = new AbortController();
        const onClose = (): void => abort.abort();
        reply.raw.on('close', onClose);
        const waitMs = parseWait(q.wait);
        await kv.store.waitFor({ key, prefix, min: q.index, waitMs: waitMs + Math.floor(Math.random() * (waitMs / 16)), signal: abort.signal });
        reply.raw.off('close', onClose);
      }
      consulHeaders(reply, kv.store.index(key, prefix));
      if (listing) {
        const keys = listKeys(
          kv.store.list(key).filter((e) => mayRead(request, 'kv', e.Key, 'list')),
          key,
          q.separator,
        );
        return keys.length === 0 ? reply.status(404).send('') : keys;
      }
      if (prefix) {
        const entries = kv.store.list(key).filter((e) => mayRead(request, 'kv', e.Key));
        return entries.length === 0 ? reply.status(404).send('') : entries.map(render);
      }
      const entry = kv.store.get(key);
      if (!entry) return reply.status(404).send('');
      if (flag(q.raw)) return sendRaw(reply, entry);
      return [render(entry)];
    });

    app.put('/v1/kv/*', { schema: { querystring: KvQuery }, bodyLimit: BODY_LIMIT, config: rule('kv', 'write', keyOf) }, async (request, reply) => {
      const key = keyOf(request);
      checkKey(key, 'write a key');
      const q = request.query as KvQueryT;
      if (q.acquire && q.release) throw new BerthError('invalid_input', 'Cannot write the key: acquire and release are exclusive, pass one');
      let value: string | null;
      try {
        value = toValue(request.body as Buffer | undefined);
      } catch (err) {
        if (err instanceof ValueTooLargeError) return reply.status(413).send(err.toJSON());
        throw err;
      }
      const { ok, index } = await kv.put(key, value, { flags: q.flags, cas: q.cas, acquire: q.acquire, release: q.release });
      consulHeaders(reply, index);
      return ok;
    });

    app.delete('/v1/kv/*', { schema: { querystring: KvQuery }, config: rule('kv', 'write', keyOf) }, async (request, reply) => {
      const key = keyOf(request);
      const q = request.query as KvQueryT;
      const recurse = flag(q.recurse);
      if (recurse && !request.identity.authorizer.allowsUnder('kv', key, 'write')) throw denied(request.identity, `kv: write on every key under "${key}"`);
      if (!recurse) checkKey(key, 'delete a key');
      const { ok, index } = await kv.delete(key, { recurse, cas: q.cas });
      consulHeaders(reply, index);
      return ok;
    });
  };
}

/** Reading one key needs `read` on it; a recursive read or a key listing needs `list` on the prefix, and shows only what the token may read. */
const KV_READ = rule('kv', (r) => (flag((r.query as KvQueryT).keys) || flag((r.query as KvQueryT).recurse) ? 'list' : 'read'), keyOf);

/** The key from the wildcard path, decoded. */
function keyOf(request: FastifyRequest): string {
  return (request.params as { '*': string })['*'] ?? '';
}

/** An entry in Consul's field order, with Session only when held. */
export function render(e: KvEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { LockIndex: e.LockIndex, Key: e.Key, Flags: e.Flags, Value: e.Value, CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex };
  if (e.Session) out.Session = e.Session;
  return out;
}

/** `?keys`: key names under the prefix, cut after the first separator past the prefix. */
function listKeys(entries: KvEntry[], prefix: string, separator: string | undefined): string[] {
  if (!separator) return entries.map((e) => e.Key);
  const out: string[] = [];
  for (const e of entries) {
    const at = e.Key.indexOf(separator, prefix.length);
    const k = at < 0 ? e.Key : e.Key.slice(0, at + separator.length);
    if (out[out.length - 1] !== k) out.push(k);
  }
  return out;
}

function sendRaw(reply: FastifyReply, entry: KvEntry): FastifyReply {
  const bytes = entry.Value === null ? Buffer.alloc(0) : Buffer.from(entry.Value, 'base64');
  const text = bytes.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(bytes) && !text.includes('\u0000');
  return reply.type(isText ? 'text/plain; charset=utf-8' : 'application/octet-stream').send(bytes);
}
