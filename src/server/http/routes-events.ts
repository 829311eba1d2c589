/**
 * `GET /v1/event/stream`: state changes as newline-delimited JSON (default) or server-sent events
 * (`Accept: text/event-stream`). `?topic=Job:web` (repeatable) filters; `?index=N` resumes after
 * N (SSE also honours Last-Event-ID); a compacted index answers 410. Idle streams get a heartbeat.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { StateBackend } from '../../state/index.ts';
import { IndexCompactedError, parseTopics, subscribeEvents, type StreamEvent, type StreamFrame } from '../events/index.ts';
import { mayRead } from './acl-guard.ts';
import { rule } from './route-acl.ts';
import type { FastifyRequest } from 'fastify';

const StreamQuery = Type.Object({
  topic: Type.Optional(Type.Array(Type.String({ maxLength: 512 }), { maxItems: 64 })),
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  heartbeat: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
});

/** Output buffered for a slow client before its stream is ended. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Default heartbeat period, as Nomad's (10 s). */
const HEARTBEAT_MS = 10_000;

/** The event stream route over the server's backend. */
export function eventRoutes(backend: StateBackend): FastifyPluginAsync {
  // events: read to subscribe at all; then each event only if the token may read its object.
  return async (app) => {
    app.get('/v1/event/stream', { schema: { querystring: StreamQuery }, config: rule('events', 'read') }, async (request, reply) => {
      const q = request.query as { topic?: string[]; index?: number; heartbeat?: number };
      const sse = (request.headers.accept ?? '').includes('text/event-stream');
      const lastId = request.headers['last-event-id'];
      const after = q.index ?? (sse && typeof lastId === 'string' && /^\d+$/.test(lastId) ? Number(lastId) : undefined);
      const filter = parseTopics(q.topic ?? []);
      const raw = reply.raw;
      const write = (frame: StreamFrame): void => {
        if (raw.writableEnded) return;
        // A client that stops reading must not grow the server's memory: end its stream; it
        // resumes from the last index it read, losing nothing.
        if (raw.writableLength > MAX_BUFFERED_BYTES) {
          const why = `Cannot keep streaming: the client fell ${raw.writableLength} bytes behind; reconnect with index=<last Index read>`;
          raw.end(sse ? `event: error\ndata: ${JSON.stringify({ error: why })}\n\n` : `${JSON.stringify({ Error: why })}\n`);
          return;
        }
        const json = JSON.stringify(frame);
        raw.write(sse ? `id: ${frame.Index}\nevent: events\ndata: ${json}\n\n` : `${json}\n`);
      };
      const pending: StreamFrame[] = [];
      let started = false;
      let watcher;
      try {
        watcher = await subscribeEvents(backend, {
          filter,
          after,
          visible: (event) => eventVisible(request, event),
          onFrame: (frame) => (started ? write(frame) : pending.push(frame)),
          onError: (err) => {
            if (raw.writableEnded) return;
            raw.write(sse ? `event: error\ndata: ${JSON.stringify({ error: err.message })}\n\n` : `${JSON.stringify({ Error: err.message })}\n`);
            raw.end();
          },
        });
      } catch (err) {
        if (err instanceof IndexCompactedError) return reply.status(410).send(err.toJSON());
        throw err;
      }
      reply.hijack();
      raw.writeHead(200, {
        'content-type': sse ? 'text/event-stream' : 'application/x-ndjson',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      raw.flushHeaders();
      started = true;
      for (const f of pending.splice(0)) write(f);
      // Heartbeats keep proxies and clients from closing an idle stream.
      const timer = setInterval(() => !raw.writableEnded && raw.write(sse ? ': heartbeat\n\n' : '{}\n'), q.heartbeat ?? HEARTBEAT_MS);
      raw.on('close', () => {
        clearInterval(timer);
        watcher.cancel();
      });
    });
  };
}

/** May the request's token read the object an event is about? */
function eventVisible(request: FastifyRequest, event: StreamEvent): boolean {
  const payload = (event.Payload[event.Topic] ?? {}) as { jobId?: string; name?: string; Name?: string } | null;
  switch (event.Topic) {
    case 'Job':
      return mayRead(request, 'jobs', event.Key);
    case 'Allocation':
    case 'Deployment':
    case 'Evaluation':
      return mayRead(request, 'jobs', payload?.jobId ?? '');
    case 'Node':
      return mayRead(request, 'nodes', payload?.name ?? event.Key);
    case 'Service':
      return mayRead(request, 'services', payload?.name ?? '');
    case 'KV':
      return mayRead(request, 'kv', event.Key);
    case 'Session':
      return mayRead(request, 'sessions', event.Key);
  }
}
