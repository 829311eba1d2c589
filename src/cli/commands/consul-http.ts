/** Raw HTTP calls to the server's Consul-shaped routes, for the kv, lock, service and event commands. */
import { ServerPool } from '../../api/index.ts';
import { isBerthError } from '../../model/index.ts';
import { CliError } from '../errors.ts';

/** An answer: its status, Consul's index header and its text. */
export interface RawAnswer {
  status: number;
  index: number;
  text: string;
}

let pool: ServerPool | undefined;

/** The servers of BERTH_ADDR, one pool for the whole command so the one that answered is kept. */
export function servers(): ServerPool {
  pool ??= new ServerPool();
  return pool;
}

/**
 * Send a request to the servers of BERTH_ADDR, going on to the next one while a server does not
 * answer; when none answers, a CliError naming every address tried.
 */
export async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; signal?: AbortSignal; timeoutMs?: number }): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (process.env.BERTH_TOKEN) headers.authorization = `Bearer ${process.env.BERTH_TOKEN}`;
  try {
    return await servers().fetch(path, { ...init, headers });
  } catch (err) {
    if (isBerthError(err, 'unavailable')) throw new CliError(err.message);
    throw err;
  }
}

/** Call the server; 404 is returned (KV's "no such key"), other refusals become a CliError with the server's words. */
export async function call(method: 'GET' | 'PUT' | 'DELETE', path: string, options: { body?: string | Buffer; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RawAnswer> {
  const { body } = options;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/octet-stream';
  // The caller's signal replaces the timeout: a watch waits as long as it is told to.
  const timeoutMs = options.signal ? undefined : (options.timeoutMs ?? 30_000);
  const res = await send(path, { method, headers, body, signal: options.signal, timeoutMs });
  const text = await res.text();
  if (!res.ok && res.status !== 404) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // Not berth's error shape: show the text as it came.
    }
    throw new CliError(message);
  }
  return { status: res.status, index: Number(res.headers.get('x-consul-index') ?? 0), text };
}

/** The path of a key, each segment escaped. */
export function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}
