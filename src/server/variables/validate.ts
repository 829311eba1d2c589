/** What a variable may be: its path, its items, its size. Pure. */
import { BerthError, type ErrorDetail } from '../../model/index.ts';

/** Longest path, as Nomad's. */
export const MAX_PATH_LENGTH = 128;
/** Largest variable: its items as JSON. */
export const MAX_VARIABLE_BYTES = 64 * 1024;
/** Most items in one variable. */
const MAX_ITEMS = 256;
const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const ITEM_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Throws `invalid_input` (400) unless `path` is a variable path: segments of letters, digits and
 * `. _ ~ -` joined by `/`, no empty, `.` or `..` segment, at most 128 characters.
 */
export function checkPath(path: string): void {
  const problem = pathProblem(path);
  if (problem) throw new BerthError('invalid_input', `Invalid variable path "${path}": ${problem}`, [{ path: 'path', message: problem }]);
}

function pathProblem(path: string): string | undefined {
  if (path === '') return 'it is empty; give a path such as berth/jobs/web/db';
  if (path.length > MAX_PATH_LENGTH) return `it is ${path.length} characters long; use at most ${MAX_PATH_LENGTH}`;
  if (path.startsWith('/') || path.endsWith('/')) return 'it starts or ends with "/"; drop the slash (e.g. berth/jobs/web)';
  for (const segment of path.split('/')) {
    if (segment === '') return 'it has an empty segment ("//"); use single slashes';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment; name each level`;
    if (!SEGMENT.test(segment)) return `segment "${segment}" has a character other than letters, digits, ".", "_", "~" and "-"`;
  }
  return undefined;
}

/** Throws `invalid_input` listing every problem of the items (name rules, count, total size). */
export function checkItems(items: unknown, path: string): asserts items is Record<string, string> {
  const problems: ErrorDetail[] = [];
  if (items === null || typeof items !== 'object' || Array.isArray(items)) {
    problems.push({ path: 'items', message: 'must be an object of item names to string values' });
  } else {
    const entries = Object.entries(items);
    if (entries.length === 0) problems.push({ path: 'items', message: 'is empty: give at least one item (KEY=VALUE)' });
    if (entries.length > MAX_ITEMS) problems.push({ path: 'items', message: `has ${entries.length} items; at most ${MAX_ITEMS}` });
    for (const [k, v] of entries) {
      if (!ITEM_KEY.test(k)) problems.push({ path: `items.${k}`, message: 'an item name is 1-128 letters, digits, "_", "." or "-"' });
      if (typeof v !== 'string') problems.push({ path: `items.${k}`, message: `must be a string, not ${v === null ? 'null' : typeof v}` });
    }
    const size = Buffer.byteLength(JSON.stringify(items));
    if (size > MAX_VARIABLE_BYTES) problems.push({ path: 'items', message: `is ${size} bytes as JSON; at most ${MAX_VARIABLE_BYTES} (64 KiB)` });
  }
  if (problems.length > 0) {
    throw new BerthError('invalid_input', `Invalid variable "${path}": ${problems[0].path}: ${problems[0].message}`, problems);
  }
}

/** Throws `invalid_input` unless `prefix` is empty or could begin a path. */
export function checkPrefix(prefix: string): void {
  if (prefix.length > MAX_PATH_LENGTH || prefix.startsWith('/') || !/^[A-Za-z0-9._~/-]*$/.test(prefix)) {
    throw new BerthError('invalid_input', `Invalid variable prefix "${prefix}": use the start of a path (letters, digits, "/", ".", "_", "~", "-"; no leading "/")`, [
      { path: 'prefix', message: 'not the start of a variable path' },
    ]);
  }
}
