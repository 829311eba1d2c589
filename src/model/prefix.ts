import { BerthError } from './errors.ts';

/** Candidates an ambiguous prefix error lists, at most. */
const LISTED = 10;

/** How `findByIdPrefix` names and finds things. */
export interface PrefixOptions<T> {
  /** `allocation`, `job`: the kind, in messages. */
  what: string;
  /** Shortest prefix accepted (IDs shown shortened are 8 characters). Default 4. */
  minLength?: number;
  /** How a candidate is listed; default its id. */
  label?: (item: T) => string;
  /** Where to look them up, for the not-found message: `berth job status`. */
  listCommand?: string;
}

/**
 * The item whose id is `ref`, else the one item whose id starts with `ref` (the short IDs the CLI
 * prints). An ambiguous prefix is refused with the candidates listed, so that the next try works.
 */
export function findByIdPrefix<T extends { id: string }>(items: readonly T[], ref: string, options: PrefixOptions<T>): T {
  const exact = items.find((i) => i.id === ref);
  if (exact) return exact;
  const matches = ref.length >= (options.minLength ?? 4) ? items.filter((i) => i.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0];
  const { what } = options;
  if (matches.length > 1) {
    const label = options.label ?? ((i: T) => i.id);
    const shown = matches.slice(0, LISTED).map((m) => `  ${label(m)}`);
    if (matches.length > LISTED) shown.push(`  ... and ${matches.length - LISTED} more`);
    throw new BerthError('invalid_input', `Cannot find ${what} "${ref}": the prefix matches ${matches.length} ${what}s; give more characters of one of:\n${shown.join('\n')}`, [
      { path: 'id', message: 'ambiguous prefix' },
    ]);
  }
  const short = ref.length < (options.minLength ?? 4) ? ` (a prefix needs at least ${options.minLength ?? 4} characters)` : '';
  throw new BerthError('not_found', `Cannot find ${what} "${ref}": no such ${what}${short}${options.listCommand ? ` (see \`${options.listCommand}\`)` : ''}`);
}
