/**
 * The Consul-shaped routes a browser needs (KV with CAS, sessions, the catalog and health) and
 * the event stream, typed, over a client's server pool. The CLI speaks to the same routes with raw
 * calls (cli/commands/consul-http.ts); the UI uses these.
 */
import { BerthError, type ErrorDetail, type KvEntry } from '../model/index.ts';
import { codeOfHttpStatus } from './status.ts';
import type { ServerPool } from './server-pool.ts';
import type { Indexed } from './types.ts';

/** One KV entry as Consul's `GET /v1/kv/<key>` lists it (the value base64): the model's. */
export type ConsulKvEntry = KvEntry;

/** One session as `GET /v1/session/list` lists it. */
export interface ConsulSession {
  ID: string;
  Name: string;
  Node: string;
  TTL: string;
  Behavior: string;
  LockDelay: number;
  CreateIndex: number;
}

/** One check of a service instance as `GET /v1/health/service/<name>` lists it. */
export interface ConsulCheck {
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical' | 'maintenance';
  Output: string;
  ServiceID: string;
  Type?: string;
}

/** One instance of a service with its node and checks. */
export interface ConsulHealthEntry {
  Node: { Node: string; Address: string };
  Service: { ID: string; Service: string; Address: string; Port: number; Tags: string[] | null; Meta: Record<string, string> | null };
  Checks: ConsulCheck[];
}

/** One change of the event stream (`GET /v1/event/stream`), Nomad's shape. */
export interface StreamEvent {
  Topic: string;
  Type: string;
  Key: string;
  Index: number;
  Payload?: unknown;
}

/** One frame of the event stream: the events of one state revision. */
export interface StreamFrame {
  Index: number;
  Events: StreamEvent[];
}

/** Typed calls to the discovery, KV and event routes. */
export class DiscoveryClient {
  readonly #pool: ServerPool;

  constructor(pool: ServerPool) {
    this.#pool = pool;
  }

  /** Every entry under a prefix (Consul's `?recurse`); with `index`, a blocking read. */
  async kvList(prefix: string, opts: { index?: number; waitMs?: number; signal?: AbortSignal } = {}): Promise<Indexed<ConsulKvEntry[]>> {
    const q = new URLSearchParams({ recurse: 'true' });
    if (opts.index !== undefined) q.set('index', String(opts.index));
    if (opts.waitMs !== undefined) q.set('wait', `${Math.round(opts.waitMs)}ms`);
    const res = await this.#send('GET', `${kvPath(prefix)}?${q}`, { signal: opts.signal, allow404: true });
    const index = Number(res.headers.get('x-consul-index') ?? 0);
    return { index, value: res.status === 404 ? [] : ((await res.json()) as ConsulKvEntry[]) };
  }

  /**
   * Write a key; with `cas`, only if its modify index is still that (0: only if it does not exist).
   * True when written, false when the CAS lost: someone else wrote first.
   */
  async kvPut(key: string, value: string, cas?: number): Promise<boolean> {
    const res = await this.#send('PUT', kvPath(key) + (cas === undefined ? '' : `?cas=${cas}`), { body: value });
    return (await res.json()) === true;
  }

  /** Delete a key; with `cas`, only if its modify index is still that. True when deleted. */
  async kvDelete(key: string, cas?: number): Promise<boolean> {
    const res = await this.#send('DELETE', kvPath(key) + (cas === undefined ? '' : `?cas=${cas}`), {});
    return (await res.json()) === true;
  }

  /** Every session. */
  async sessions(): Promise<ConsulSession[]> {
    return (await this.#send('GET', '/v1/session/list', {})).json() as Promise<ConsulSession[]>;
  }

  /** Service names and their tags; with `index`, a blocking read. */
  async services(opts: { index?: number; waitMs?: number; signal?: AbortSignal } = {}): Promise<Indexed<Record<string, string[]>>> {
    const q = new URLSearchParams();
    if (opts.index !== undefined) q.set('index', String(opts.index));
    if (opts.waitMs !== undefined) q.set('wait', `${Math.round(opts.waitMs)}ms`);
    const res = await this.#send('GET', `/v1/catalog/services?${q}`, { signal: opts.signal });
    return { index: Number(res.headers.get('x-consul-index') ?? 0), value: (await res.json()) as Record<string, string[]> };
  }

  /** The instances of a service with their checks. */
  async health(service: string): Promise<ConsulHealthEntry[]> {
    return (await this.#send('GET', `/v1/health/service/${encodeURIComponent(service)}`, {})).json() as Promise<ConsulHealthEntry[]>;
  }

  /** Frames of the event stream from after `index` (default: from now), until `signal` aborts or the stream ends. */
  async *events(opts: { topics?: string[]; index?: number; signal?: AbortSignal } = {}): AsyncGenerator<StreamFrame> {
    const q = new URLSearchParams();
    for (const t of opts.topics ?? []) q.append('topic', t);
    if (opts.index !== undefined) q.set('index', String(opts.index));
    const res = await this.#send('GET', `/v1/event/stream?${q}`, { signal: opts.signal });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const frame = JSON.parse(line || '{}') as Partial<StreamFrame> & { Error?: string };
        if (frame.Error) throw new BerthError('unavailable', `The event stream ended: ${frame.Error}`);
        if (frame.Events) yield frame as StreamFrame;
      }
    }
  }

  async #send(method: string, path: string, init: { body?: string; signal?: AbortSignal; allow404?: boolean }): Promise<Response> {
    const headers: Record<string, string> = init.body === undefined ? {} : { 'content-type': 'application/octet-stream' };
    const res = await this.#pool.fetch(path, { method, headers, body: init.body, signal: init.signal });
    if (res.ok || (init.allow404 && res.status === 404)) return res;
    const text = await res.text();
    let parsed: { error?: { message?: string; details?: ErrorDetail[] } } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    throw new BerthError(codeOfHttpStatus(res.status), parsed?.error?.message ?? `${method} ${path.split('?')[0]}: HTTP ${res.status} ${text.slice(0, 200)}`, parsed?.error?.details ?? []);
  }
}

/** The path of a key, each segment escaped, the slashes kept. */
function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}
