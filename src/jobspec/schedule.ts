/**
 * Schedule maths of periodic jobs, pure (time is always passed in): cron expressions of 5 or 6
 * fields (via croner) and ISO8601 repeating intervals `R[n]/START/PERIOD` (Chronos' notation), read
 * in an IANA time zone so that DST changes land where a person expects.
 */
import { Cron } from 'croner';
import type { PeriodicConfig } from '../model/index.ts';

/** An ISO8601 duration split into calendar parts (added on the local calendar) and clock parts (ms). */
interface Period {
  years: number;
  months: number;
  days: number;
  /** Hours, minutes and seconds, as elapsed time. */
  clockMs: number;
}

/** A parsed `R[n]/START/PERIOD`: at most `repeats` launches (undefined: forever) from `startMs`. */
interface Repeating {
  repeats?: number;
  /** Undefined: the job's anchor (registration time). */
  startMs?: number;
  period: Period;
}

const PERIOD_RE = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Reads `R[n]/START/PERIOD`; a message saying what is wrong otherwise. */
export function parseRepeating(text: string): Repeating | string {
  const parts = text.split('/');
  if (parts.length !== 3) return `must be R[n]/START/PERIOD (START may be empty), got "${text}"`;
  const [r, start, dur] = parts;
  const m = /^R(\d*)$/.exec(r);
  if (!m) return `must start with R or R<n> (how many times), got "${r}"`;
  const repeats = m[1] === '' ? undefined : Number(m[1]);
  let startMs: number | undefined;
  if (start !== '') {
    // A START without offset would depend on the server's zone: ask for one.
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(start)) {
      return `START must be an ISO8601 date-time with an offset like 2026-01-01T00:00:00Z, got "${start}"`;
    }
    startMs = Date.parse(start);
    if (Number.isNaN(startMs)) return `START is not a valid date-time: "${start}"`;
  }
  const p = PERIOD_RE.exec(dur);
  if (!p || dur === 'P' || dur.endsWith('T')) return `PERIOD must be an ISO8601 duration like PT1H or P1D, got "${dur}"`;
  const n = (i: number): number => (p[i] === undefined ? 0 : Number(p[i]));
  const period: Period = {
    years: n(1),
    months: n(2),
    days: n(3) * 7 + n(4),
    clockMs: Math.round((n(5) * 3600 + n(6) * 60 + n(7)) * 1000),
  };
  if (period.years + period.months + period.days === 0 && period.clockMs < 1000) return `PERIOD must be at least one second, got "${dur}"`;
  return { repeats, startMs, period };
}

/** Checks a schedule; undefined when good, else a message for the user. */
export function checkSchedule(config: Pick<PeriodicConfig, 'cron' | 'schedule' | 'timeZone'>): string | undefined {
  if (!validZone(config.timeZone)) return `time_zone: unknown IANA time zone "${config.timeZone}"`;
  if (config.cron !== undefined) {
    const fields = config.cron.trim().split(/\s+/).length;
    if (fields !== 5 && fields !== 6) return `cron: must have 5 fields (or 6, seconds first), got ${fields} in "${config.cron}"`;
    try {
      new Cron(config.cron, { paused: true, timezone: config.timeZone });
    } catch (err) {
      return `cron: ${(err as Error).message}`;
    }
    return undefined;
  }
  if (config.schedule !== undefined) {
    const parsed = parseRepeating(config.schedule);
    return typeof parsed === 'string' ? `schedule: ${parsed}` : undefined;
  }
  return 'one of cron and schedule is required';
}

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Parsed cron patterns by zone and expression: a thousand jobs share a few patterns. */
const CRONS = new Map<string, Cron>();
const MAX_CACHED_CRONS = 1000;

function cronOf(expression: string, zone: string): Cron {
  const key = `${zone} ${expression}`;
  let cron = CRONS.get(key);
  if (!cron) {
    if (CRONS.size >= MAX_CACHED_CRONS) CRONS.clear();
    cron = new Cron(expression, { paused: true, timezone: zone });
    CRONS.set(key, cron);
  }
  return cron;
}

/** The first launch strictly after `afterMs`, or undefined once the schedule has ended. */
export function nextLaunch(config: PeriodicConfig, afterMs: number): number | undefined {
  if (config.cron !== undefined) return cronOf(config.cron, config.timeZone).nextRun(new Date(afterMs))?.getTime();
  const parsed = parseRepeating(config.schedule ?? '');
  if (typeof parsed === 'string') return undefined;
  const start = parsed.startMs ?? config.anchorMs ?? 0;
  return nextRepeat(parsed, start, config.timeZone, afterMs);
}

/** The next `count` launches strictly after `afterMs` (fewer once the schedule ends). */
export function nextLaunches(config: PeriodicConfig, afterMs: number, count: number): number[] {
  const out: number[] = [];
  let t = afterMs;
  while (out.length < count) {
    const next = nextLaunch(config, t);
    if (next === undefined) break;
    out.push(next);
    t = next;
  }
  return out;
}

/** The k-th repeat from `start`, calendar parts on the wall clock of `zone`, clock parts elapsed. */
function occurrence(r: Repeating, start: number, zone: string, k: number): number {
  const { years, months, days, clockMs } = r.period;
  let t = start;
  if (years + months + days > 0) {
    const w = wallClock(start, zone);
    t = fromWallClock({ ...w, year: w.year + years * k, month: w.month + months * k, day: w.day + days * k }, zone);
  }
  return t + clockMs * k;
}

function nextRepeat(r: Repeating, start: number, zone: string, afterMs: number): number | undefined {
  const approx = r.period.years * 365.25 * 86_400_000 + r.period.months * 30.44 * 86_400_000 + r.period.days * 86_400_000 + r.period.clockMs;
  // Estimate k from the average period, then step to the first repeat past `afterMs`.
  let k = afterMs < start ? 0 : Math.max(0, Math.floor((afterMs - start) / approx) - 1);
  while (k > 0 && occurrence(r, start, zone, k) > afterMs) k--;
  while (occurrence(r, start, zone, k) <= afterMs) k++;
  if (r.repeats !== undefined && k >= r.repeats) return undefined;
  return occurrence(r, start, zone, k);
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

/** The wall-clock fields of an instant in a zone (month 0-based, as Date.UTC takes them). */
function wallClock(ms: number, zone: string): Wall {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const get = (type: string): number => Number(f.formatToParts(new Date(ms)).find((p) => p.type === type)?.value ?? 0);
  return { year: get('year'), month: get('month') - 1, day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second'), ms: ms % 1000 };
}

/** The offset of a zone at an instant, in ms (local = UTC + offset). */
function offsetAt(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  return Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second, w.ms) - ms;
}

/**
 * The instant a wall-clock time names in a zone. A time skipped by DST moves forward by the gap
 * (02:30 on a spring-forward day is 03:30); a repeated one is its first occurrence.
 */
function fromWallClock(w: Wall, zone: string): number {
  const naive = Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second, w.ms);
  const before = offsetAt(naive - 86_400_000, zone);
  const after = offsetAt(naive + 86_400_000, zone);
  if (offsetAt(naive - before, zone) === before) return naive - before;
  if (offsetAt(naive - after, zone) === after) return naive - after;
  // In the gap: read with the offset before the change, which lands after it by the gap.
  return naive - before;
}
