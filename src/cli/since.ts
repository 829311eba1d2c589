import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../jobspec/index.ts';

/**
 * `--since`: a duration back from now (`10m`, `1h30m`) or a point in time (`2026-12-07T12:00:00Z`,
 * any form `Date.parse` reads), as ms since the epoch. `now` is for tests.
 */
export function parseSince(value: string, now: number = Date.now()): number {
  const ago = parseDuration(value);
  if (ago.ok) return now - ago.value;
  // A bare date-time or date, not a lone number (which Date.parse would take for a year).
  const at = /\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isNaN(at)) return at;
  throw new InvalidArgumentError(`expected a duration back from now (10m, 1h30m) or a time (2026-12-07T12:00:00Z), got "${value}"`);
}
