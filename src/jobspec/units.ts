/**
 * Parsers for the quantities a spec writes with units: durations, memory sizes and CPU.
 *
 * Each returns a result instead of throwing, because bad input is an expected outcome here, and
 * each error message says what would have been accepted.
 */

/** The outcome of parsing one quantity. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Upper bound of any duration: about 10 years, far past any sensible timeout, well inside safe integers. */
const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;
/** Upper bound of a memory size: 1 PiB, in MiB. */
const MAX_MEMORY_MIB = 1024 ** 3;
/** Upper bound of CPU: more cores than any single host has. */
const MAX_CPU_CORES = 65_536;
/** Quoted in messages; long hostile strings are cut so that an error stays one readable line. */
const MAX_QUOTED = 40;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { b: 1 / 1024 ** 2, ki: 1 / 1024, mi: 1, gi: 1024, ti: 1024 ** 2 };

/** A value as messages show it: strings quoted and cut, numbers as written, lists and maps by kind. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') {
    const cut = value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value;
    return JSON.stringify(cut);
  }
  return String(value);
}

function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

/**
 * Parses a duration such as `"15s"`, `"500ms"`, `"30m"` or `"1h30m"` (Go's notation with the units
 * ms, s, m, h; decimals allowed: `"1.5h"`) into whole milliseconds.
 *
 * A bare number is refused on purpose: `delay: 15` could mean seconds or milliseconds, and guessing
 * wrong silently is worse than asking for a unit.
 */
export function parseDuration(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    return fail(`must be a duration with a unit, such as "${value}s" or "${value}ms", got ${value}`);
  }
  if (typeof value !== 'string') {
    return fail(`must be a duration such as "15s", "500ms" or "1h30m", got ${describeValue(value)}`);
  }
  const text = value.trim();
  const part = /(\d+(?:\.\d+)?)([a-zµ]+)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    const unit = DURATION_UNITS[m[2]];
    if (unit === undefined) {
      return fail(`unknown duration unit "${m[2]}" in ${describeValue(value)}; use ms, s, m or h`);
    }
    total += Number(m[1]) * unit;
    consumed = part.lastIndex;
  }
  if (text === '' || consumed !== text.length) {
    return fail(`must be a duration such as "15s", "500ms" or "1h30m", got ${describeValue(value)}`);
  }
  const ms = Math.round(total);
  if (!(ms <= MAX_DURATION_MS)) return fail(`must be at most 87600h (10 years), got ${describeValue(value)}`);
  return { ok: true, value: ms };
}

/**
 * Parses a memory size into MiB: a number is MiB already; a string takes a binary unit
 * (`"512Ki"`, `"256Mi"`, `"1Gi"`, `"2Ti"`, with or without a trailing `B`, any case, or `"B"` for
 * bytes). The result is rounded up to a whole MiB, the unit memory is held in.
 *
 * Decimal units (`"256M"`, `"1GB"`) are refused: Docker reads `m` as MiB while Kubernetes reads
 * `M` as 10^6 bytes, so either reading would surprise someone.
 */
export function parseSize(value: unknown): Parsed<number> {
  let mib: number;
  if (typeof value === 'number') {
    mib = value;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
    if (m === null) return fail(`must be a size in MiB or a string such as "256Mi" or "1Gi", got ${describeValue(value)}`);
    const unitText = m[2].toLowerCase();
    const unit = unitText === '' ? 1 : SIZE_UNITS[unitText.endsWith('ib') ? unitText.slice(0, -1) : unitText];
    if (unit === undefined) {
      return fail(`unknown size unit "${m[2]}" in ${describeValue(value)}; use Ki, Mi, Gi or Ti (powers of 1024)`);
    }
    mib = Number(m[1]) * unit;
  } else {
    return fail(`must be a size in MiB or a string such as "256Mi" or "1Gi", got ${describeValue(value)}`);
  }
  if (!Number.isFinite(mib) || mib <= 0) return fail(`must be a positive number of MiB, got ${describeValue(value)}`);
  if (mib > MAX_MEMORY_MIB) return fail(`must be at most 1Pi, got ${describeValue(value)}`);
  return { ok: true, value: Math.ceil(mib) };
}

/**
 * Parses CPU into cores: a number is cores (`0.5`), a string is cores (`"2"`) or millicores
 * (`"500m"`). Precision stops at one millicore; less than that is refused rather than rounded to 0.
 */
export function parseCpu(value: unknown): Parsed<number> {
  let cores: number;
  if (typeof value === 'number') {
    cores = value;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(value);
    if (m === null) return fail(`must be cores (0.5) or millicores ("500m"), got ${describeValue(value)}`);
    cores = m[2] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
  } else {
    return fail(`must be cores (0.5) or millicores ("500m"), got ${describeValue(value)}`);
  }
  if (!Number.isFinite(cores) || cores <= 0) return fail(`must be a positive number of cores, got ${describeValue(value)}`);
  if (cores > MAX_CPU_CORES) return fail(`must be at most ${MAX_CPU_CORES} cores, got ${describeValue(value)}`);
  const milli = Math.round(cores * 1000);
  if (milli < 1) return fail(`must be at least 1 millicore ("1m"), got ${describeValue(value)}`);
  return { ok: true, value: milli / 1000 };
}
