/**
 * Compose's override tags (compose-spec 13-merge.md): `!reset` clears what earlier files set,
 * `!override` replaces it instead of merging. The yaml package parses them into these markers;
 * the merge reads and drops them.
 */
import type { Tags } from 'yaml';

/** A value written with `!reset` or `!override`. */
export class Tagged {
  constructor(
    readonly tag: 'reset' | 'override',
    readonly value: unknown,
  ) {}
}

/** The yaml package's custom tags for both markers on scalars, sequences and mappings. */
export const COMPOSE_TAGS: Tags = (['reset', 'override'] as const).flatMap((tag) => [
  { tag: `!${tag}`, identify: (): boolean => false, resolve: (v: string) => new Tagged(tag, v === '' ? null : v) },
  { tag: `!${tag}`, collection: 'seq' as const, identify: (): boolean => false, resolve: (v: { toJSON(): unknown }) => new Tagged(tag, v.toJSON()) },
  { tag: `!${tag}`, collection: 'map' as const, identify: (): boolean => false, resolve: (v: { toJSON(): unknown }) => new Tagged(tag, v.toJSON()) },
]) as unknown as Tags;

/** A tree with every marker replaced by its value (a file read alone, or once merged). */
export function untag(value: unknown): unknown {
  if (value instanceof Tagged) return value.tag === 'reset' ? undefined : untag(value.value);
  if (Array.isArray(value)) return value.map(untag);
  if (isMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const u = untag(v);
      if (u !== undefined) out[k] = u;
    }
    return out;
  }
  return value;
}

/** A plain mapping (not an array, not a marker). */
export function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}
