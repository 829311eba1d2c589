/**
 * A stored job back as a spec to edit. The server keeps the job as the model has it (`memoryMiB`,
 * `killTimeoutMs`, camelCase), not the text it was given, so the editor starts from the spec
 * written back: snake_case keys, durations and sizes with their units, fields berth owns left out,
 * empty maps and lists dropped. Keys inside user maps (config, env, meta) stay as they are.
 */
import type { Job } from '../model/index.ts';

/** Fields the server sets, never part of a spec. */
const OWNED = new Set(['version', 'stop', 'submitTime', 'stable', 'parentId', 'payload', 'anchorMs']);
/** Maps whose keys are the user's own. */
const USER_MAPS = new Set(['config', 'env', 'meta', 'labels', 'header']);
/** Model names whose spec name is not the plain snake_case of the name. */
const RENAMED: Record<string, string> = { memoryMiB: 'memory', memoryMaxMiB: 'memory_max', diskMiB: 'disk', portLabel: 'port', timeZone: 'time_zone', expectStatus: 'expected_status' };

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Milliseconds in the largest unit that writes them whole: 1800000 as 30m. */
function duration(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function entry(key: string, value: unknown): [string, unknown] {
  if (key === 'expectStatus' && typeof value === 'object' && value !== null) {
    const { min, max } = value as { min: number; max: number };
    return ['expected_status', min === max ? min : `${min}-${max}`];
  }
  if (key in RENAMED) return [RENAMED[key], typeof value === 'number' && key.endsWith('MiB') ? `${value}Mi` : value];
  if (key.endsWith('Ms') && typeof value === 'number') return [snake(key.slice(0, -2)), duration(value)];
  return [snake(key), value];
}

function convert(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v));
  if (value === null || typeof value !== 'object') return value;
  if (USER_MAPS.has(key)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (OWNED.has(k) || v === undefined) continue;
    if (typeof v === 'object' && v !== null && Object.keys(v).length === 0) continue;
    const [name, raw] = entry(k, v);
    out[name] = convert(raw, k);
  }
  return out;
}

/** The spec of a stored job, as a value to write out as YAML. */
export function specOf(job: Job): Record<string, unknown> {
  return convert(job) as Record<string, unknown>;
}
