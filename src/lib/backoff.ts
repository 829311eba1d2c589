/** Options for exponential backoff with full jitter. */
export interface BackoffOptions {
  /** First delay. Default 100 ms. */
  baseMs?: number;
  /** Largest delay. Default 10 s. */
  maxMs?: number;
  /** Random source in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

/** The delay before retry number `attempt` (0-based): min(max, base * 2^attempt), jittered down to half. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 10_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
