/** A raw HTTP call to the server's Consul-shaped routes, for the kv, lock and event commands. */
import { BerthClient } from '../../api/index.ts';
import { CliError } from '../errors.ts';

/** An answer: its status, Consul's index header and its text. */
export interface RawAnswer {
  status: number;
  index: number;
  text: string;
}

/** The server's address (BERTH_ADDR). */
export function serverAddress(): string {
  return new BerthClient().address;
}

/** Call the server; 404 is returned (KV's "no such key"), other refusals become a CliError with the server's words. */
export async function call(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: string | Buffer, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RawAnswer> {
  const address = serverAddress();
  const headers: Record<string, string> = {};
  if (process.env.BERTH_TOKEN) headers.authorization = `Bearer ${process.env.BERTH_TOKEN}`;
  if (body !== undefined) headers['content-type'] = 'application/octet-stream';
  let res: Response;
  try {
    const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs ?? 30_000);
    res = await fetch(`${address}${path}`, { method, headers, body, signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new CliError(`Cannot reach the berth server at ${address}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message} (is it running? set BERTH_ADDR)`);
  }
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
